import { describe, expect, it } from 'vitest';
import type { DayReport } from '../../cli/commands/report.ts';
import { toMarkdown } from '../../cli/commands/report-markdown.ts';
import type { DayReconciliation } from '../../reconcile/day-report.ts';
import { CAUSES } from '../../reconcile/reconcile.ts';
import type { DayStatus } from '../../store/store-reads.ts';

// Walked 2026-12-07: an orders pipeline changed on day 3 (15m -> 30m windows), `report --date <day 1>` under
// the new definitions. Its first paragraph advised `concord backfill --date D` for day 1's dirty cells, which
// backfill refuses for a day of another definition (exit 2), said "Nothing to run." of a day the definitions
// given no longer compute, and of a pipeline added on day 2 and backfilled into day 1 it said "the numbers
// are the stream's own (version 0)" and to run `concord reconcile --date D`, refused: the stream wrote no
// rows of that day.
const D = '2026-12-01';
const recon: DayReconciliation = {
  date: D, pipeline: 'orders_15m', generation: 1, previous_generation: 0, status: 'published', day_status: 'provisional',
  reconciled_at: '2026-12-02T02:00:00.000Z', job_id: 'j', corrections: 0,
  report: {
    pipeline: 'orders_15m', definition_version: 'old1', max_out_of_orderness: '30s', allowed_lateness: '5m', cells: 96, equal: 96, different: 0,
    causes: Object.fromEntries(CAUSES.map((c) => [c, 0])) as DayReconciliation['report']['causes'], unexplained: 0, late_events: 0,
    evidence: { duplicates: 0, dead_letters: 0, archive_gaps: 0 }, differences: [],
    metrics: { mismatched: 0, missing: 0, extra: 0, mismatch_rate: 0, smape: 0 } as DayReconciliation['report']['metrics'],
  },
};
const status = (o: Partial<DayStatus> = {}): DayStatus =>
  ({ pipeline: 'orders_15m', day: D, status: 'reconciled', sealed: false, liveGeneration: 1, generations: [1], lateDelta: 0, dirty: 0, watermark: null, ...o });

/** The pipeline's paragraph of "In short", the day computed by `live` and streamed by `stream`, the definitions given computing new2. */
async function inShort(o: { live: string; stream: readonly string[]; reconciliation: DayReconciliation | null; status: DayStatus }): Promise<string> {
  const r: DayReport = {
    date: D,
    pipelines: [{
      pipeline: 'orders_15m', empty: false, reconciliation: o.reconciliation, definition_versions: { [o.live]: 96 }, definition_version: 'new2', rows: [],
      status: o.status, headline: { kind: 'windowed', streamDefinitions: o.stream },
    }],
  };
  return (await toMarkdown(r, false)).split('\n').find((l) => l.startsWith('**orders_15m**'))!;
}

describe('report --format md, "In short", of a day computed by another definition than the one given', () => {
  it('dirty cells: names the backfill that runs under these definitions, not the one they refuse', async () => {
    const line = await inShort({ live: 'old1', stream: ['old1'], reconciliation: recon, status: status({ dirty: 3 }) });
    expect(line).not.toContain('(late data): run `concord backfill --date');
    expect(line).toContain('in a day computed by definition version old1; the definitions given compute new2');
    expect(line).toContain('`concord backfill --date 2026-12-01 --pipeline orders_15m --archive DIR` recomputes them only with the definitions of old1');
    expect(line).toContain('`concord backfill --from 2026-12-01 --to 2026-12-01 --pipeline orders_15m --archive DIR` recomputes the whole day under these.');
  });

  it('nothing dirty: says the day keeps the old definition\'s numbers and how to recompute it, not "Nothing to run."', async () => {
    const line = await inShort({ live: 'old1', stream: ['old1'], reconciliation: recon, status: status() });
    expect(line).not.toContain('Nothing to run.');
    expect(line).toContain('Its live rows are of definition version old1; the definitions given compute new2: `concord backfill --from 2026-12-01 --to 2026-12-01');
  });

  it('the same definition: unchanged', async () => {
    const line = await inShort({ live: 'new2', stream: ['new2'], reconciliation: recon, status: status({ dirty: 3 }) });
    expect(line).toContain('3 cells changed since the last reconcile or backfill (late data): run `concord backfill --date 2026-12-01 --pipeline orders_15m --archive DIR`.');
  });

  it('not reconciled, streamed by the old definition: reconcile with that one, or recompute under these', async () => {
    const line = await inShort({ live: 'old1', stream: ['old1'], reconciliation: null, status: status({ status: 'provisional', liveGeneration: 0, generations: [] }) });
    expect(line).toContain('computed by definition version old1; the definitions given compute new2');
    expect(line).toContain('run it with the definitions of old1 once the day is archived, or recompute the day under these with `concord backfill --from 2026-12-01 --to 2026-12-01');
    expect(line).not.toContain('Run `concord reconcile');
  });

  it('a pipeline added after the day, backfilled into it: no stream rows, nothing to reconcile', async () => {
    const line = await inShort({ live: 'new2', stream: [], reconciliation: null, status: status({ liveGeneration: 1, generations: [1] }) });
    expect(line).toBe('**orders_15m**: version 1 was recomputed from the archive (`concord backfill`); the stream wrote no rows of this day ' +
      '(the pipeline was added after it?), so there is nothing to reconcile.');
  });
});
