import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaArchiver } from '../../batch/kafka-archiver.ts';
import { clicksSchema, pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { deleteGroups } from '../../stream/kafka/admin.ts';
import { ConsumerLagReport } from '../../stream/kafka/consumer-lag.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// "The sink is behind" and "the archiver is behind" could not be alerted on: only `concord run` reported
// concord_consumer_lag_records. The sink and the archiver report it too, for the partitions they own.
const s = kafkaSettings('concord-test-consumer-lag');
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const T0 = Date.UTC(2026, 10, 23, 10);
const CLICKS = 40;

async function lags(m: PromProcessMetrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await m.text()).split('\n')) {
    const x = /^concord_consumer_lag_records\{topic="([^"]*)",partition="(\d+)"\} (\S+)$/.exec(line);
    if (x) out.set(`${x[1]}:${x[2]}`, Number(x[3]));
  }
  return out;
}

/** Scrapes while `run` runs; the lags of the last scrape that had any, and whether one saw them all at 0. */
async function scrapeWhile(m: PromProcessMetrics, run: Promise<unknown>, topic: string): Promise<{ seen: Map<string, number>; caughtUp: boolean }> {
  let ended = false;
  void run.finally(() => { ended = true; });
  let seen = new Map<string, number>();
  let caughtUp = false;
  while (!ended) {
    const now = await lags(m);
    if ([...now.keys()].some((k) => k.startsWith(`${topic}:`))) {
      seen = now;
      if ([...now].filter(([k]) => k.startsWith(`${topic}:`)).every(([, v]) => v === 0)) caughtUp = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await run;
  return { seen, caughtUp };
}

describe('consumer lag of the sink and the archiver', () => {
  const topics: string[] = [];
  const stores: SqlResultStore[] = [];
  const dirs: string[] = [];
  let prefix = '';
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
    await deleteGroups(s, [`${prefix}sink-lag`, `${prefix}concord-archiver-clicks`, `${prefix}concord-clicks`]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('ConsumerLagReport: end offset minus the position, per owned partition; a partition handed away is dropped', async () => {
    prefix = await seedTopicsUnderNewPrefix('h-metrics-lag', s, topics);
    const input = topicNames(prefix).input('clicks');
    const producer = await BatchProducer.connect(s);
    await producer.send(Array.from({ length: CLICKS }, (_, i) => ({
      topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts: T0 + i * 1_000, url: '/a', visitor_id: `v${i}` }),
    })));
    await producer.close();
    const m = new PromProcessMetrics();
    let owned = new Map([[input, [0]]]);
    const report = new ConsumerLagReport(m, s, () => owned, () => 15);
    expect(await lags(m)).toEqual(new Map([[`${input}:0`, CLICKS - 15]]));
    owned = new Map();
    expect(await lags(m)).toEqual(new Map());
    report.stop();
  }, 60_000);

  it('concord archive --from-kafka reports the lag of its topic, down to 0 once it read everything', async () => {
    const input = topicNames(prefix).input('clicks');
    const dir = mkdtempSync(join(tmpdir(), 'h-metrics-lag-'));
    dirs.push(dir);
    const m = new PromProcessMetrics();
    const archiver = new KafkaArchiver({ schema: clicksSchema, sketched: [], dir, settings: s, stopWhenIdleMs: 1_500, metrics: m });
    const { seen, caughtUp } = await scrapeWhile(m, archiver.run(), input);
    expect([...seen.keys()]).toEqual([`${input}:0`]);
    expect(caughtUp).toBe(true);
  }, 120_000);

  it('concord sink reports the lag of the topics it reads (results among them), down to 0 once it wrote everything', async () => {
    const worker = new KafkaWorker({ pipelines: [def], settings: s, workerId: 'lag', partitions: 1, stopWhenIdleMs: 1_500 });
    expect((await worker.run()).results).toBeGreaterThan(0);
    const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
    stores.push(store);
    const m = new PromProcessMetrics();
    const sink = new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: `${prefix}sink-lag`, stopWhenIdleMs: 1_500, metrics: m });
    const results = topicNames(prefix).results;
    const { seen, caughtUp } = await scrapeWhile(m, sink.run(), results);
    expect(seen.has(`${results}:0`)).toBe(true);
    expect(caughtUp).toBe(true);
  }, 120_000);
});
