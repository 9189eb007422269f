import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { KafkaArchiver } from '../../batch/kafka-archiver.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { reconcileDay } from '../../reconcile/reconcile-day.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A producer renamed `visitor_id` to `visitorId`: the workers, under the definitions of the day,
// dead-lettered those clicks on concord.dlq; the archiver ran with `"aliases": {"visitor_id":
// ["visitorId"]}` (the same definition version) and kept them. The sink keeps the workers' refusals in the
// store (rejected_events), so the day's reconcile names the cell parse_reject (before, the sink kept only
// time verdicts: the cell was unexplained, nothing published).
const s = kafkaSettings('concord-test-alias-sink');
const ws = tempWorkspace();

describe('concord sink: the workers\' refusals for a field', () => {
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
    ws.cleanup();
  });

  it('reach the store from concord.dlq; reconcile --date names the cell an alias added later changed parse_reject', async () => {
    const M = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
    const before = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
    const after = { ...before, schema: { ...before.schema, aliases: { visitor_id: ['visitorId'] } } };
    expect(definitionVersion(after)).toBe(definitionVersion(before));
    const prefix = await seedTopicsUnderNewPrefix('alias-sink', s, topics);
    const producer = await BatchProducer.connect(s);
    const input = topicNames(prefix).input('clicks');
    await producer.send([0, 1, 2, 3].map((i) => ({
      topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: `e${i}`, ts: M + i * 1_000, url: '/a', ...(i < 2 ? { visitor_id: `v${i}` } : { visitorId: `v${i}` }) }),
    })));
    await producer.close();
    const stats = await new KafkaWorker({ pipelines: [before], settings: s, workerId: 'alias-sink', partitions: 1, stopWhenIdleMs: 1_500 }).run();
    expect(stats).toMatchObject({ events: 2, deadLetters: 2 });
    const dir = join(ws.dir, 'archive');
    await new KafkaArchiver({ schema: after.schema, sketched: [], dir, settings: s, stopWhenIdleMs: 1_000, flushIntervalMs: 200 }).run();

    const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
    stores.push(store);
    await new KafkaStoreSink({ settings: s, store, pipelines: [after], groupId: `${prefix}sink`, stopWhenIdleMs: 1_000 }).run();
    const refused = expect.stringMatching(/^visitor_id: is required; the event has "visitorId"/);
    expect((await store.quarantinedEvents('clicks', M, M + 60_000)).map((q) => [q.position.offset, q.eventTime, q.rejected])).toEqual([[2, M + 2_000, refused], [3, M + 3_000, refused]]);

    const date = new Date(M).toISOString().slice(0, 10);
    const rec = await reconcileDay({ def: after, date, store, archiveDir: dir, jobId: 'alias-sink' });
    expect(rec).toMatchObject({ status: 'published', report: { unexplained: 0, causes: { parse_reject: 1 } } });
    expect(rec.report.differences.map((d) => [d.realtime?.views, d.replay?.views, d.late_events.map((e) => e.id)])).toEqual([[2, 4, ['e2', 'e3']]]);
  }, 120_000);
});
