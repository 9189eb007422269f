import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { count, countDistinct, max, min, sum } from '../../pipeline/aggregates.ts';
import { checkDefinition, type PipelineDefinition } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { transactionsSchema } from '../../examples/seed.ts';
import { resultToJson } from '../../schemas/results.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace();
afterAll(() => ws.cleanup());

// Hopping windows of 2 minutes every minute, with every exact aggregate, keyed by user.
const def: PipelineDefinition = checkDefinition({
  kind: 'windowed',
  name: 'spend_2m_hopping',
  description: 'test pipeline',
  schema: transactionsSchema,
  where: [],
  watermark: { maxOutOfOrderness: 0 },
  allowedLateness: 0,
  key: ['user_id'],
  window: hopping(120_000, 60_000),
  aggregates: [
    { output: 'n', aggregate: count() },
    { output: 'total', aggregate: sum('amount') },
    { output: 'smallest', aggregate: min('amount') },
    { output: 'largest', aggregate: max('amount') },
    { output: 'countries', aggregate: countDistinct('country') },
  ],
});
const txn = (id: string, ts: number, amount: number, country = 'FR') => JSON.stringify({ txn_id: id, ts, user_id: 'u', country, amount });
const iso = (ms: number) => new Date(ms).toISOString();

// Amounts are decimal(2): written out in major units (1.5, not 150).
// B = 0, L = 0: W = max ts - 1 so far; a window [s, s + 2 min) is late once W >= s + 2 min - 1.
describe('hopping windows through both runtimes', () => {
  const lines = [
    txn('a', 30_000, 1.5, 'FR'), // windows [-60 s, 60 s) and [0, 120 s)
    txn('b', 90_000, 2.25, 'DE'), // W = 89 999: [-60 s, 60 s) fires
    txn('c', 120_000, 10, 'FR'), // W = 119 999: [0, 120 s) fires
    txn('d', 70_000, 4, 'IT'), // [0, 120 s) is late, [60 s, 180 s) is not: counted there, not a late event
    txn('e', 10_000, 3, 'ES'), // both windows late: the late output, once
  ];
  const run = runBoth(def, lines, join(ws.dir, 'hop'));

  it('stream: an event late for some of its windows still counts in the others; late output only when all are late', async () => {
    const { final, lates } = await run;
    expect(final.map(resultToJson)).toMatchObject([
      { window_start: iso(-60_000), n: 1, total: 1.5, smallest: 1.5, largest: 1.5, countries: 1 },
      { window_start: iso(0), n: 2, total: 3.75, smallest: 1.5, largest: 2.25, countries: 2 },
      { window_start: iso(60_000), n: 3, total: 16.25, smallest: 2.25, largest: 10, countries: 3 },
      { window_start: iso(120_000), n: 1, total: 10, countries: 1 },
    ]);
    expect(lates.map((l) => [l.event.txn_id, l.windowStart, l.windowEnd])).toEqual([['e', 0, 120_000]]);
  });

  it('replay assigns the same windows and computes the same aggregates over complete data', async () => {
    const { replayed, report } = await run;
    expect(replayed.map(resultToJson)).toMatchObject([
      { window_start: iso(-60_000), n: 2, total: 4.5, smallest: 1.5, largest: 3, countries: 2 },
      { window_start: iso(0), n: 4, total: 10.75, countries: 4 },
      { window_start: iso(60_000), n: 3, total: 16.25, countries: 3 },
      { window_start: iso(120_000), n: 1, total: 10, countries: 1 },
    ]);
    expect(report).toMatchObject({ different: 2, unexplained: 0, causes: { late_beyond_lateness: 2 } });
    const zero = report.differences.find((d) => d.cell.window_start === iso(0))!;
    expect(zero.late_events.map((e) => e.id)).toEqual(['d', 'e']);
  });

  it('a difference caused only by an event late for one of its windows is explained too', async () => {
    const { report } = await runBoth(def, lines.slice(0, 4), join(ws.dir, 'hop-partial'));
    expect(report).toMatchObject({ different: 1, unexplained: 0, late_events: 0 });
    expect(report.differences[0]).toMatchObject({ cell: { window_start: iso(0) }, late_events: [{ id: 'd' }] });
  });
});
