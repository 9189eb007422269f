import { describe, expect, it } from 'vitest';
import { currentReconciliation, type DayReconciliation } from '../../reconcile/day-report.ts';
import type { ReconcileReport } from '../../reconcile/reconcile.ts';

// Which of a day's stored reconciliations report and the API show: a run that published nothing (its
// replay already live) must not hide what the live version's own run corrected.
const run = (job: string, at: string, status: DayReconciliation['status'], generation: number | null, previous: number, corrections: number): DayReconciliation => ({
  date: '2026-11-23', pipeline: 'p', job_id: job, reconciled_at: at, status, generation, previous_generation: previous, corrections,
  day_status: 'provisional', report: {} as ReconcileReport,
});
const published = run('r1', '2026-11-24T01:00:00.000Z', 'published', 1, 0, 7);

describe('currentReconciliation', () => {
  it('the newest run, when it published or failed', () => {
    expect(currentReconciliation([])).toBeNull();
    expect(currentReconciliation([published])).toEqual(published);
    const failed = run('r2', '2026-11-24T02:00:00.000Z', 'failed_unexplained', null, -1, 0);
    expect(currentReconciliation([published, failed])).toEqual(failed);
  });

  it('an unchanged rerun shows the run that published the version it found, with the rerun as a note', () => {
    const rerun = run('r1', '2026-11-24T03:00:00.000Z', 'unchanged', 1, 1, 0);
    expect(currentReconciliation([published, rerun])).toEqual({ ...published, rechecked: { job_id: 'r1', reconciled_at: rerun.reconciled_at } });
    // A failed run in between (the archive was being rewritten): the live version is still the published one.
    const failed = run('r2', '2026-11-24T02:00:00.000Z', 'failed_unexplained', null, -1, 0);
    expect(currentReconciliation([published, failed, rerun])).toMatchObject({ job_id: 'r1', corrections: 7, rechecked: { reconciled_at: rerun.reconciled_at } });
    // A version no reconciliation published (a backfill's): the rerun's own record.
    const afterBackfill = run('r3', '2026-11-24T04:00:00.000Z', 'unchanged', 2, 2, 0);
    expect(currentReconciliation([published, afterBackfill])).toEqual(afterBackfill);
  });
});
