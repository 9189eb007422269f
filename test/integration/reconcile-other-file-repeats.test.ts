import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { reconcileDay } from '../../reconcile/reconcile-day.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The stream read one concatenated file (all.jsonl), the archive was made from the per-day files. An
// order re-sent hours later was dropped by the stream as late and logged at its line of all.jsonl; the
// archive holds it twice (first delivery and re-send), so the lookup by id and time, which wanted exactly
// one archived event, left it at the stream's position. The shadow then counted it twice where the stream
// counted it once: the cell holding it and an order counted twice was `unexplained`, naming the late
// re-send instead of the order counted twice, and the day was not published.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const H = 3_600_000;
const D18 = Date.UTC(2026, 10, 18), D19 = Date.UTC(2026, 10, 19);
const registry = parseDefinitions({
  schemas: { orders: { time: 'ts', id: 'order_id', fields: { order_id: 'string', ts: 'timestamp', country: 'string', amount: 'decimal(2)' } } },
  pipelines: {
    revenue_per_country_hour: {
      input: 'orders', key: ['country'], window: { tumbling: '1h' }, aggregates: { orders: 'count', revenue: ['sum', 'amount'] },
      max_out_of_orderness: '1m', allowed_lateness: '10m',
    },
  },
}, 'test');
const def = registry.pipeline('revenue_per_country_hour');
const countries = ['DE', 'FR', 'PT'];
const id = (n: number) => `o${String(n).padStart(7, '0')}`;
const order = (n: number, ts: number, country: string) => JSON.stringify({ order_id: id(n), ts, country, amount: (n % 50) + 0.5 });
/** 150 orders spread over the day, countries in turn. */
const dayOrders = (from: number, first: number) => Array.from({ length: 150 }, (_, i) => ({ n: first + i, ts: from + Math.floor((i * 86_400_000) / 150), country: countries[i % 3]! }));

it('reconcile --date: a late re-sent event streamed from another file than the archive holds is matched by its id; the cell is a duplicate', async () => {
  const e18 = dayOrders(D18, 0), e19 = dayOrders(D19, 150);
  const l18 = e18.map((e) => order(e.n, e.ts, e.country)), l19 = e19.map((e) => order(e.n, e.ts, e.country));
  const de21 = e18.filter((e) => e.country === 'DE' && e.ts >= D18 + 21 * H && e.ts < D18 + 22 * H);
  const [late, twice] = [de21[0]!, de21[1]!];
  // Counted twice: re-sent right after itself. Dropped: re-sent at the end of the day, hours late.
  l18.splice(l18.indexOf(order(twice.n, twice.ts, twice.country)) + 1, 0, order(twice.n, twice.ts, twice.country));
  l18.push(order(late.n, late.ts, late.country));
  // One more order counted twice, in the next day's first hour (its own day's, not the 18th's).
  l19.splice(1, 0, l19[0]!);
  const archiveDir = join(ws.dir, 'archive');
  for (const [name, lines] of [['2026-11-18.jsonl', l18], ['2026-11-19.jsonl', l19]] as const) {
    await new ParquetArchive(archiveDir, def.schema).write(memoryBatches(`file:${name}`, lines, 1000));
  }
  const streamed = await streamLines(def, [...l18, ...l19]); // the concatenation, read as file:input.jsonl
  expect(streamed.lates.map((l) => [l.event.order_id, l.position.source])).toEqual([[id(late.n), 'file:input.jsonl']]);
  const store = await openStore(`duckdb:${join(ws.dir, 'store.duckdb')}`, { registry });
  try {
    await store.writeRealtime(streamed.changelog);
    await store.appendLate(def.name, streamed.lates.map((record) => ({ record, evaluatedOnArrival: false })));
    const rec = await reconcileDay({ def, date: '2026-11-18', store, archiveDir, jobId: 'r18' });
    expect(rec).toMatchObject({ status: 'published', report: { different: 1, unexplained: 0, causes: { duplicate: 1 } } });
    expect(rec.report.differences.map((d) => [d.cell, d.cause, d.late_events, d.repeated])).toEqual([[
      { window_start: '2026-11-18T21:00:00.000Z', window_end: '2026-11-18T22:00:00.000Z', country: 'DE' }, 'duplicate', [],
      [{ id: id(twice.n), ts: new Date(twice.ts).toISOString(), source: 'file:2026-11-18.jsonl', offset: l18.lastIndexOf(order(twice.n, twice.ts, twice.country)) }],
    ]]);
    // The day's repeated deliveries (both of the 18th), not the archive's three.
    expect(rec.report.evidence.duplicates).toBe(2);
    const next = await reconcileDay({ def, date: '2026-11-19', store, archiveDir, jobId: 'r19' });
    expect(next).toMatchObject({ status: 'published', report: { different: 1, unexplained: 0, causes: { duplicate: 1 }, evidence: { duplicates: 1 } } });
  } finally {
    await store.close();
  }
});
