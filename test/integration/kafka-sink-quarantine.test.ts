import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { KafkaArchiver } from '../../batch/kafka-archiver.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { reconcileDay } from '../../reconcile/reconcile-day.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Workers and an archiver that judge time by another max_future_skew (docs/semantics.md "Time that
// lies"): the workers quarantined `ahead` (its dead letter on concord.dlq), the archiver counted it. The
// sink keeps the workers' verdict in the store, so the day's reconcile names the cell future_timestamp
// (before, the sink read no dead letters and the cell was unexplained: nothing published).
const s = kafkaSettings('concord-test-h-future-quarantine');
const ws = tempWorkspace();

describe('concord sink: the workers\' time-quarantine verdicts', () => {
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
    ws.cleanup();
  });

  it('reach the store from concord.dlq; reconcile --date names the cell the archive counted them in future_timestamp', async () => {
    // The reference is the record timestamp (the producer's clock, now): `on-time` within the skew, `ahead`
    // 45 s beyond it, in the same minute.
    const M = Math.floor((Date.now() + 2 * 3_600_000) / 60_000) * 60_000;
    const base = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
    const def = { ...base, schema: { ...base.schema, maxFutureSkewMs: M + 10_000 - Date.now() } };
    const prefix = await seedTopicsUnderNewPrefix('h-future-q', s, topics);
    const producer = await BatchProducer.connect(s);
    const input = topicNames(prefix).input('clicks');
    await producer.send([['on-time', M + 1_000], ['ahead', M + 55_000]].map(([id, ts]) => ({
      topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: id, ts, url: '/a', visitor_id: `v-${String(id)}` }),
    })));
    await producer.close();
    const stats = await new KafkaWorker({ pipelines: [def], settings: s, workerId: 'h-future', partitions: 1, stopWhenIdleMs: 1_500 }).run();
    expect(stats).toMatchObject({ events: 1, deadLetters: 1 });
    const dir = join(ws.dir, 'archive');
    await new KafkaArchiver({ schema: { ...def.schema, maxFutureSkewMs: Infinity }, sketched: [], dir, settings: s, stopWhenIdleMs: 1_000, flushIntervalMs: 200 }).run();

    const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
    stores.push(store);
    await new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: `${prefix}sink`, stopWhenIdleMs: 1_000 }).run();
    expect((await store.quarantinedEvents('clicks', M, M + 60_000)).map((q) => [q.position, q.eventTime])).toEqual([[{ source: `${input}:0`, offset: 1 }, M + 55_000]]);

    const date = new Date(M).toISOString().slice(0, 10);
    const rec = await reconcileDay({ def, date, store, archiveDir: dir, jobId: 'h-future' });
    expect(rec).toMatchObject({ status: 'published', report: { unexplained: 0, causes: { future_timestamp: 1 } } });
    expect(rec.report.differences.map((d) => [d.realtime?.views, d.replay?.views, d.late_events.map((e) => e.id)])).toEqual([[1, 2, ['ahead']]]);
  }, 120_000);
});
