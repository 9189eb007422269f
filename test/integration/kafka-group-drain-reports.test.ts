import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchProducer, ensureTopics, kafkaSettings, type OutRecord } from '../../stream/kafka/client.ts';
import { GroupDrain } from '../../stream/group-drain.ts';
import { partitionReport } from '../../stream/watermark-reports.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';

// Two faults of a bounded worker's wait for its group's drain (stream/group-drain.ts), found 2026-12-06:
// - Drain reports were keyed by pipeline and partition, not group: another group's report of the same
//   pipeline overwrote it on the compacted topic, and a worker whose sibling had drained waited out the
//   session timeout (up to 15 s) and said "left to it". Keyed by group now; reports already on the topic
//   under the old key are still read.
// - Every 500 ms tick of the wait joined a fresh consumer group and read the whole watermarks topic again;
//   one consumer now follows it and each tick reads only what is new.
const s = kafkaSettings('concord-test-h-bounded-reports');

describe('GroupDrain over the watermarks topic', () => {
  const topics: string[] = [];
  const drains: GroupDrain[] = [];
  afterAll(async () => {
    for (const d of drains) await d.close();
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('a partition drained by the group stays drained beside another group\'s reports and old-keyed ones; each report is read once by one consumer', async () => {
    const stem = `h-bounded-${randomUUID().slice(0, 6)}.`;
    const input = `${stem}input`, watermarks = `${stem}concord.watermarks`;
    topics.push(input, watermarks);
    await ensureTopics(s, [{ name: input, partitions: 2 }, { name: watermarks, partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
    const producer = await BatchProducer.connect(s);
    try {
      // Partition 0 holds 3 records, partition 1 holds 2.
      await producer.send([0, 0, 0, 1, 1].map((partition, i) => ({ topic: input, partition, key: `k${i}`, value: `{"i":${i}}` })));
      const report = (pipeline: string, group: string, partition: number, next?: number): OutRecord => partitionReport(watermarks, {
        pipeline, version: 'v1', group, partition, partitions: 2, watermark: 1_000, drained: next !== undefined, ...(next !== undefined ? { drainedAt: { group, next } } : {}),
      });
      // Group a drained both partitions of `views` to their ends; group b, running the same pipeline,
      // reports partition 0 afterwards (still running) and has drained partition 1.
      await producer.send([report('views', 'a', 0, 3), report('views', 'a', 1, 2), report('views', 'b', 0), report('views', 'b', 1, 2)]);
      // An earlier release's reports (key `pipeline|partition`): `clicks` drained by a on 0, by b on 1.
      const legacy = (pipeline: string, group: string, partition: number, next: number): OutRecord => ({ ...report(pipeline, group, partition, next), key: `${pipeline}|${partition}` });
      await producer.send([legacy('clicks', 'a', 0, 3), legacy('clicks', 'b', 1, 2)]);

      const drainOf = (group: string, pipeline: string) => {
        const d = new GroupDrain({ settings: s, watermarks, groupId: group, topic: input, pipelines: [{ name: pipeline, version: 'v1' }], log: () => undefined });
        drains.push(d);
        return d;
      };
      const a = drainOf('a', 'views');
      expect(await a.drained()).toEqual({ drained: new Set([0, 1]), open: [] });
      const b = drainOf('b', 'views');
      expect(await b.drained()).toEqual({ drained: new Set([1]), open: [0] });
      expect(await drainOf('a', 'clicks').drained()).toEqual({ drained: new Set([0]), open: [1] });

      // Group a's wait asks again: one consumer, and only the records written since are read.
      expect(await a.reads()).toEqual({ opened: 1, records: 6 });
      await producer.send([report('views', 'b', 0, 3)]);
      expect(await b.drained()).toEqual({ drained: new Set([0, 1]), open: [] });
      expect(await a.drained()).toEqual({ drained: new Set([0, 1]), open: [] });
      expect(await a.reads()).toEqual({ opened: 1, records: 7 });
      // A record after a drain opens the partition again (the next run must process it).
      await producer.send([{ topic: input, partition: 1, key: 'k5', value: '{"i":5}' }]);
      expect(await a.drained()).toEqual({ drained: new Set([0]), open: [1] });
    } finally {
      await producer.close();
    }
  }, 120_000);
});
