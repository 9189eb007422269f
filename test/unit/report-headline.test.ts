import { describe, expect, it } from 'vitest';
import type { DayReport } from '../../cli/commands/report.ts';
import { toMarkdown } from '../../cli/commands/report-markdown.ts';
import { spokenDuration } from '../../reconcile/day-headline.ts';
import type { DayReconciliation } from '../../reconcile/day-report.ts';
import { CAUSES, type Cause, type Difference } from '../../reconcile/reconcile.ts';
import type { DayStatus } from '../../store/store-reads.ts';

// A manager asks why yesterday's dashboard differs from today's report. The Markdown report opened on
// two tables of 11 and 14 columns and JSON blobs per cell: the answer (how many cells, why, how late, what
// to run) was nowhere in words, a backfill since the reconciliation was not mentioned (its table was shown
// as current), and neither were the commands to run for dirty cells or a day never reconciled.
const D = '2026-12-05';
const T = (hms: string) => `${D}T${hms}.000Z`;
const late = (id: string, ts: string, w: string, offset: number) => ({ id, ts: T(ts), source: 'file:rides.jsonl', offset, watermark: T(w) });
const diff = (start: string, cause: Cause, events: Difference['late_events'], rides: [number, number] = [1, 2]): Difference => ({
  cell: { window_start: T(start), window_end: T(start), city: 'Faro' }, realtime: { rides: rides[0], revenue: 10.1 * rides[0] }, replay: { rides: rides[1], revenue: 10.1 * rides[1] }, cause, late_events: events,
});

function rec(o: { at: string; status?: DayReconciliation['status']; differences: Difference[]; unexplained?: number }): DayReconciliation {
  const causes = Object.fromEntries(CAUSES.map((c) => [c, o.differences.filter((d) => d.cause === c).length])) as Record<Cause, number>;
  return {
    date: D, pipeline: 'city_15m', generation: o.status === 'failed_unexplained' ? null : 1, previous_generation: 0, status: o.status ?? 'published',
    day_status: 'provisional', reconciled_at: o.at, job_id: 'j', corrections: o.differences.length,
    report: {
      pipeline: 'city_15m', definition_version: 'v', max_out_of_orderness: '30s', allowed_lateness: '5m', cells: 400, equal: 400 - o.differences.length,
      different: o.differences.length, causes, unexplained: causes.unexplained, late_events: 0, evidence: { duplicates: 0, dead_letters: 0, archive_gaps: 0 },
      differences: o.differences, metrics: { mismatched: o.differences.length, missing: 0, extra: 0, mismatch_rate: 0, smape: 0 } as DayReconciliation['report']['metrics'],
    },
  };
}

const status = (o: Partial<DayStatus> = {}): DayStatus => ({ pipeline: 'city_15m', day: D, status: 'reconciled', sealed: false, liveGeneration: 1, generations: [1], lateDelta: 0, dirty: 0, watermark: null, ...o });

function report(p: Partial<DayReport['pipelines'][number]>): DayReport {
  return { date: D, pipelines: [{ pipeline: 'city_15m', empty: false, reconciliation: null, definition_versions: { v: 400 }, definition_version: 'v', rows: [], status: status(), ...p }] };
}

/** The pipeline's paragraph of the report's first section, which comes before the tables. */
async function inShort(r: DayReport): Promise<string> {
  const md = await toMarkdown(r, false);
  const head = md.split('\n## ')[1]!;
  expect(head.startsWith('In short\n')).toBe(true);
  return head.split('\n').find((l) => l.startsWith('**city_15m**'))!;
}

describe('report --format md: the answer first, in words', () => {
  const first = rec({
    at: '2026-12-06T02:00:00.000Z',
    differences: [
      diff('01:15:00', 'late_beyond_lateness', [late('r1', '01:23:00', '01:37:00', 127)]),
      // One event late for two windows (hopping): counted once.
      diff('01:30:00', 'late_beyond_lateness', [late('r2', '01:31:00', '03:01:30', 130), late('r1', '01:23:00', '01:37:00', 127)]),
      diff('09:15:00', 'duplicate', [], [3, 2]),
    ],
  });

  it('says how many cells differ and why, by cause, and how late the late events came', async () => {
    const line = await inShort(report({ reconciliation: first, headline: { kind: 'windowed', liveProvenance: { reconciled: 400 }, totals: { names: ['rides', 'revenue'], overlapping: false } } }));
    // +1 +1 -1 rides, 10.1 a ride (doubles rounded to 6 decimals).
    expect(line).toContain('Over those cells the report\'s totals differ from the dashboard\'s by rides +1, revenue +10.1.');
    expect(line).toContain('differ from version 1 in 3 of 400 cells (0.75%), every difference explained');
    expect(line).toContain('2 cells `late_beyond_lateness` (events arrived after their window had closed');
    expect(line).toContain('1 cell `duplicate`');
    expect(line).toContain(`The 2 late events behind them arrived ${spokenDuration(14 * 60_000)} to ${spokenDuration(90 * 60_000 + 30_000)} after`);
    expect(line).toContain('(allowed lateness 5m, out-of-orderness 30s)');
    expect(line).toMatch(/Nothing to run\.$/);
  });

  it('after a backfill and a recheck: the recheck\'s findings, and that the tables are of the published run', async () => {
    const recheck = { ...rec({ at: '2026-12-06T09:00:00.000Z', status: 'unchanged', differences: [...first.report.differences, diff('05:00:00', 'archive_added', [])] }) };
    const line = await inShort(report({ reconciliation: first, headline: { kind: 'windowed', liveProvenance: { reconciled: 399, backfill: 1 }, recheck } }));
    expect(line).toContain('differ from version 1 as backfilled since (checked 2026-12-06T09:00:00.000Z) in 4 of 400 cells');
    expect(line).toContain('1 cell `archive_added`');
    expect(line).toContain('A backfill recomputed 1 cell of version 1 after it was published (2026-12-06T02:00:00.000Z, 3 differences then)');
  });

  it('a backfill not rechecked yet: says which command compares the day as it is now', async () => {
    const line = await inShort(report({ reconciliation: first, headline: { kind: 'windowed', liveProvenance: { reconciled: 375, backfill: 25 } } }));
    expect(line).toContain('Since then a backfill recomputed 25 cells of version 1 from late data: `concord reconcile --date 2026-12-05 --pipeline city_15m --archive DIR`');
    expect(line).not.toContain('Nothing to run');
  });

  it('what to run next: dirty cells, a day never reconciled, unexplained differences', async () => {
    expect(await inShort(report({ reconciliation: first, status: status({ dirty: 7 }) })))
      .toContain('7 cells changed since the last reconcile or backfill (late data): run `concord backfill --date 2026-12-05 --pipeline city_15m --archive DIR`.');
    expect(await inShort(report({ status: status({ status: 'provisional', liveGeneration: 0, generations: [] }) })))
      .toContain('not reconciled yet; the numbers are the stream\'s own (version 0), as the dashboard showed them. Run `concord reconcile --date 2026-12-05 --pipeline city_15m --archive DIR`');
    const failed = rec({ at: '2026-12-06T02:00:00.000Z', status: 'failed_unexplained', differences: [diff('01:15:00', 'unexplained', [])] });
    const line = await inShort(report({ reconciliation: failed, status: status({ status: 'provisional', liveGeneration: 0, generations: [] }) }));
    expect(line).toContain('differ from the replay of the archive in 1 of 400 cells (0.25%), **1 cell unexplained**');
    expect(line).toContain('No correction was published');
    expect(line).toContain('`concord reconcile --date 2026-12-05 --pipeline city_15m --archive DIR --force`');
  });

  it('a rule counts alerts', async () => {
    const alerts = { ...first, report: { ...first.report, metrics: { ...first.report.metrics, mismatched: 0, extra: 1, missing: 2 } } };
    const line = await inShort(report({ reconciliation: alerts, headline: { kind: 'rule' } }));
    expect(line).toContain('in 3 of 400 alerts');
    expect(line).toContain('The dashboard showed 1 alert the report withdraws and missed 2 alerts it raises.');
    // A rule has no window that closed: it said "after their window had closed" of alerts.
    expect(line).toContain('2 alerts `late_beyond_lateness` (events arrived after the stream had decided their time, beyond the allowed lateness)');
  });

  it('spoken durations', () => {
    expect([250, 40_000, 12 * 60_000 + 5_000, 3_600_000, 88 * 60_000 + 20_000].map(spokenDuration)).toEqual(['250ms', '40s', '12m 5s', '1h', '1h 28m']);
  });
});
