import { describe, expect, it } from 'vitest';
import type { DayReport } from '../../cli/commands/report.ts';
import { toMarkdown } from '../../cli/commands/report-markdown.ts';
import type { DayReconciliation } from '../../reconcile/day-report.ts';
import { CAUSES } from '../../reconcile/reconcile.ts';

// A day reconciled under one definition, then recomputed whole under a changed one (`backfill --from D
// --to D`): `report` showed the old reconciliation's table (6849 cells of 1-minute windows) above a live
// day of 1440 five-minute cells, and said nothing of the two definitions.
const reconciliation = (definitionVersion: string): DayReconciliation => ({
  date: '2026-03-01', pipeline: 'p', generation: 1, previous_generation: 0, status: 'published', day_status: 'provisional',
  reconciled_at: '2026-03-02T02:00:00.000Z', job_id: 'j', corrections: 0,
  report: {
    pipeline: 'p', definition_version: definitionVersion, max_out_of_orderness: '30s', allowed_lateness: '5m', cells: 6849, equal: 6849, different: 0,
    causes: Object.fromEntries(CAUSES.map((c) => [c, 0])) as DayReconciliation['report']['causes'], unexplained: 0, late_events: 0,
    evidence: { duplicates: 0, dead_letters: 0, archive_gaps: 0 }, differences: [],
    metrics: { mismatched: 0, missing: 0, extra: 0, mismatch_rate: 0, smape: 0 } as DayReconciliation['report']['metrics'],
  },
});
const report = (reconciled: string, live: Record<string, number>): DayReport => ({
  date: '2026-03-01',
  pipelines: [{
    pipeline: 'p', empty: false, reconciliation: reconciliation(reconciled), definition_versions: live, definition_version: 'b2', rows: [],
    status: { pipeline: 'p', day: '2026-03-01', status: 'reconciled', sealed: false, liveGeneration: 2, generations: [1, 2], lateDelta: 0, dirty: 0, watermark: null },
  }],
});

describe('report --format md of a day recomputed under a changed definition since its reconciliation', () => {
  it('says the reconciliation shown is of the old definition and the live rows of the new', async () => {
    expect(await toMarkdown(report('a1', { b2: 1440 }), false)).toContain(
      'The reconciliation shown is of definition version a1; the live rows (version 2) are of b2, computed since: its cells, differences and causes describe the day under the old definition.');
  });

  it('says nothing of it when the live rows are the reconciled definition\'s', async () => {
    expect(await toMarkdown(report('b2', { b2: 1440 }), false)).not.toContain('The reconciliation shown');
  });
});
