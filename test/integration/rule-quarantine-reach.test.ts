import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { transactionsSchema } from '../../examples/seed.ts';
import { Registry } from '../../pipeline/registry.ts';
import { reconcileDay } from '../../reconcile/reconcile-day.ts';
import type { DeadLetter, ResultRecord } from '../../schemas/results.ts';
import type { LineBatch } from '../../sources/source.ts';
import { openStore } from '../../store/open-store.ts';
import { quarantineRecord, type QuarantineRecord } from '../../store/quarantine-records.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { runStream } from '../../stream/runtime.ts';
import { DAY, storeBackends } from '../fixtures/result-store.ts';
import { BIG_SPEND_HOURLY } from '../fixtures/rule-cases.ts';

// A rule day's store-mode recomputation reads each key's reach in the stream's view: back to the key's
// last event before the day that the stream kept. It passed over the events the stream logged late or
// that were archived later, not over those it quarantined for a future timestamp: with such an event the
// key's last before the day, the walk stopped there and the kept event before it, whose status the
// stream's first alert of the day depends on, was never read. The recomputed alert then differed from the
// stream's and the difference, made by the quarantined event alone, was unexplained.
const { ws, schemas, backends } = storeBackends();
const M = 60_000;
const H = 60 * M;
const D0 = Date.parse(`${DAY}T00:00:00Z`);
const bigSpend = BIG_SPEND_HOURLY;
const registry = new Registry([transactionsSchema], [bigSpend], 'rule-quarantine-reach');
const txn = (id: string, ts: number, user: string, amount: number) => ({ line: JSON.stringify({ txn_id: id, ts, user_id: user, country: 'FR', amount }), ts });

/**
 * k is over the limit at `p` the day before and at 00:01 (e): no new crossing for the stream. q, after p
 * (10.00, under it), was produced 2 h before its time: the stream quarantined it (max_future_skew 1 h, by
 * the record timestamp); the archive, judging with the quarantine off, counted it, so the replay's e
 * follows q and alerts. z alerts on either side.
 */
const eventsOf = (p: number, q: number) => [
  txn('k-p', p, 'k', 1500), txn('k-q', q, 'k', 10), txn('k-e', D0 + M, 'k', 1500), txn('z-e', D0 + 2 * M, 'z', 1500),
];
async function* once(events: ReturnType<typeof eventsOf>): AsyncIterable<LineBatch> {
  yield { source: 'transactions:0', firstOffset: 0, lines: events.map((e) => e.line), ingestTimes: events.map((e) => (e.line.includes('k-q') ? e.ts - 2 * H : e.ts)) };
}

describe.each(backends)('a rule day whose key\'s last event before it the stream quarantined: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  // q within the two spans before midnight (whose verdicts a rule day read), and q a quiet key's last
  // event further back (its verdict was not read at all).
  it.each([
    ['within two spans of midnight', D0 - 4 * H, D0 - 90 * M],
    ['further back', D0 - 6 * H, D0 - 3 * H],
  ])('q %s: the recomputation reaches back past it to the last event the stream kept: future_timestamp, not unexplained', async (_, p, q) => {
    const store = await openStore(url(), { registry, schema: schemas.next('rquar') });
    stores.push(store);
    const dir = join(ws.dir, `archive-${randomUUID()}`);
    await new ParquetArchive(dir, { ...transactionsSchema, maxFutureSkewMs: Infinity }).write(once(eventsOf(p, q)));
    const results: ResultRecord[] = [], dead: DeadLetter[] = [];
    await runStream({ pipelines: [bigSpend], source: once(eventsOf(p, q)), onResult: (r) => results.push(r), onLate: () => {}, onDeadLetter: (d) => dead.push(d) });
    const quarantined = dead.map((d) => quarantineRecord(d, transactionsSchema.name)).filter((x): x is QuarantineRecord => x !== null);
    expect(quarantined.map((x) => x.offset)).toEqual([1]);
    await store.writeBatch({ results, late: new Map(), watermarks: new Map(), quarantined });
    const rec = await reconcileDay({ def: bigSpend, date: DAY, store, archiveDir: dir, jobId: 'r1' });
    expect(rec.report).toMatchObject({ different: 1, unexplained: 0, causes: { future_timestamp: 1 } });
    expect(rec.report.differences.map((d) => [d.cell.user_id, d.realtime, d.replay === null ? null : 'alert', d.cause, d.late_events.map((e) => e.id)]))
      .toEqual([['k', null, 'alert', 'future_timestamp', ['k-q']]]);
    expect(rec.status).toBe('published');
  });
});
