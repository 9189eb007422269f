import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

// PostgreSQL going away under a running `concord sink` (the connections dropped, new ones refused): the
// sink died at its next write with the pg client's raw `connect ECONNREFUSED` and its stack trace, and a
// supervisor had to restart it. It now waits for the store, says so once, and writes the same rows
// when the store is back: the store then holds what an uninterrupted sink wrote, nothing lost or doubled.
const s = kafkaSettings('concord-test-sink-outage');
const M = 60_000;
const T0 = Date.UTC(2026, 10, 23, 10);
const DAY = '2026-11-23';
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });

/** 40 minutes of clicks over 3 URLs, one a minute late (L = 0): results and a late event. */
function clicks(topic: string) {
  const out = [];
  for (let m = 0; m < 40; m++) for (const url of ['/a', '/b', '/c']) out.push({ ts: T0 + m * M + 10, url });
  out.push({ ts: T0 + 2 * M + 30, url: '/a' });
  return out.map((c, i) => ({ topic, partition: 0, key: c.url, value: JSON.stringify({ event_id: `c${i}`, ts: c.ts, url: c.url, visitor_id: `v${i % 7}` }) }));
}

/**
 * Everything a store holds, table by table, without the times of writing and the change sequence (which
 * differ between two runs): a write committed twice would show as a doubled change, history or late row.
 */
async function dump(schema: string): Promise<Record<string, string[]>> {
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  try {
    const out: Record<string, string[]> = {};
    for (const t of ['result_rows', 'result_history', 'changes', 'late_events', 'late_delta', 'dirty_cells', 'watermarks', 'day_versions']) {
      const rows = await db.query(`SELECT (to_jsonb(t) - 'written_at' - 'recorded_at' - 'at_ms' - 'seq')::text AS j FROM ${schema}.${t} t ORDER BY 1`);
      out[t] = rows.rows.map((r: { j: string }) => r.j);
    }
    return out;
  } finally {
    await db.end();
  }
}

/** Polls `ok`; a sink that failed meanwhile fails the test at once, with its error. */
const until = async (what: string, ok: () => boolean, outcome: { error?: unknown }) => {
  for (let i = 0; i < 600 && !ok(); i++) {
    if (outcome.error !== undefined) throw outcome.error;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

describe('concord sink: PostgreSQL goes away and comes back', () => {
  const schemas = testSchemas();
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    await proxy?.close();
    await schemas.drop();
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('retries its write until the store answers, then holds what an uninterrupted sink holds', async () => {
    const prefix = await seedTopicsUnderNewPrefix('so', s, topics);
    const producer = await BatchProducer.connect(s);
    await producer.send(clicks(topicNames(prefix).input('clicks')));
    await producer.close();
    const worker = new KafkaWorker({ pipelines: [def], settings: s, workerId: 'so', partitions: 1, stopWhenIdleMs: 1_500 });
    expect((await worker.run()).late).toBe(1);

    const sinkInto = async (url: string, group: string, before?: (log: string[]) => Promise<void>) => {
      const store = await openStore(url, { registry: seedRegistry(), schema: schemas.next('so') });
      stores.push(store);
      const log: string[] = [];
      const sink = new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: `${prefix}${group}`, stopWhenIdleMs: 1_000, log: (l) => log.push(l), retryMs: { first: 100, max: 200 } });
      await before?.(log);
      const running = sink.run();
      const outcome: { error?: unknown } = {};
      running.catch((error: unknown) => { outcome.error = error; });
      return { store, log, running, outcome };
    };

    const base = await sinkInto(PG_URL, 'base');
    const baseStats = await base.running;

    proxy = await startTcpProxy({ host: new URL(PG_URL).hostname, port: Number(new URL(PG_URL).port || 5432) });
    const url = new URL(PG_URL);
    url.host = proxy.address;
    // The store opens (its tables made), then PostgreSQL goes away before the first write.
    const cut = await sinkInto(url.toString(), 'cut', async () => proxy!.cut());
    await until('the sink to say the store is lost', () => cut.log.some((l) => l.includes('the store does not answer')), cut.outcome);
    await proxy.restore();
    const cutStats = await cut.running;

    expect(cut.log.filter((l) => l.includes('the store does not answer'))).toHaveLength(1);
    expect(cut.log.some((l) => /the store answers again after [\d.]+ s/.test(l))).toBe(true);
    expect(cutStats.results).toBe(baseStats.results);
    expect(cutStats.late).toBe(baseStats.late);
    const rows = async (st: SqlResultStore) => (await st.current(def.name, DAY)).map((r) => [r.windowStart, r.cell, JSON.stringify(r.values), r.revision]);
    expect((await rows(base.store)).length).toBeGreaterThan(0);
    expect(await rows(cut.store)).toEqual(await rows(base.store));
    expect((await cut.store.lateEvents(def.name, DAY)).length).toBe(1);
  }, 120_000);

  // A network that silently drops packets: nothing is refused, nothing answers. The pg pool had no connect
  // or statement bound, so the sink's write waited forever (seen: still waiting after 40 s, no line
  // logged). Here the sink's COMMIT reaches PostgreSQL and commits, and its answer is lost: the outcome is
  // unknown to the sink, which must write the batch again without doubling anything.
  it('under a silent network: its write gives up, is retried after an unknown commit, and the store is the same', async () => {
    const saved = { silence: process.env.CONCORD_PG_SILENCE_MS, connect: process.env.CONCORD_PG_CONNECT_TIMEOUT_MS };
    process.env.CONCORD_PG_SILENCE_MS = '300';
    process.env.CONCORD_PG_CONNECT_TIMEOUT_MS = '300';
    try {
      const prefix = await seedTopicsUnderNewPrefix('sb', s, topics);
      const producer = await BatchProducer.connect(s);
      await producer.send(clicks(topicNames(prefix).input('clicks')));
      await producer.close();
      const worker = new KafkaWorker({ pipelines: [def], settings: s, workerId: 'sb', partitions: 1, stopWhenIdleMs: 1_500 });
      expect((await worker.run()).late).toBe(1);

      const sinkInto = async (url: string, group: string, before?: () => void) => {
        const schema = schemas.next('sb');
        const store = await openStore(url, { registry: seedRegistry(), schema });
        stores.push(store);
        const log: string[] = [];
        const sink = new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: `${prefix}${group}`, stopWhenIdleMs: 1_000, log: (l) => log.push(l), retryMs: { first: 100, max: 200 } });
        before?.();
        const running = sink.run();
        const outcome: { error?: unknown } = {};
        running.catch((error: unknown) => { outcome.error = error; });
        return { schema, log, running, outcome };
      };
      const base = await sinkInto(PG_URL, 'base');
      const baseStats = await base.running;

      const blackholed = await startTcpProxy({ host: new URL(PG_URL).hostname, port: Number(new URL(PG_URL).port || 5432) });
      try {
        const url = new URL(PG_URL);
        url.host = blackholed.address;
        let committed: Promise<void> | undefined;
        const held = await sinkInto(url.toString(), 'held', () => { committed = blackholed.blackholeAfter('COMMIT\0'); });
        await committed;
        await until('the sink to say the store is lost', () => held.log.some((l) => l.includes('the store does not answer')), held.outcome);
        expect(held.log.find((l) => l.includes('the store does not answer'))).toMatch(/PostgreSQL did not answer for [\d.]+ s, nor a new connection within 300 ms/);
        // The lost answer's COMMIT did commit (the sink's first batch: its late event, with the cell it
        // dirties): the retry writes rows already there.
        const committedRows = await dump(held.schema);
        expect(committedRows.late_events!.length + committedRows.result_rows!.length).toBeGreaterThan(0);
        await blackholed.restore();
        const heldStats = await held.running;

        expect(held.log.some((l) => /the store answers again after [\d.]+ s/.test(l))).toBe(true);
        expect(heldStats.results).toBe(baseStats.results);
        expect(await dump(held.schema)).toEqual(await dump(base.schema));
      } finally {
        await blackholed.close();
      }
    } finally {
      for (const [k, v] of [['CONCORD_PG_SILENCE_MS', saved.silence], ['CONCORD_PG_CONNECT_TIMEOUT_MS', saved.connect]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
    }
  }, 60_000);
});
