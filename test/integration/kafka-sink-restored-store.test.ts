import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// Found walking disaster recovery (2026-12-07): a store restored from a backup under a sink that kept
// its group resumed at the group's committed offsets, past everything written since the backup:
// `0 results`, exit 0, and those rows never came back. The store now keeps how far each group's reads
// are in it (sink_offsets, in each write's transaction), and a group that committed past that is refused
// (exit 2) naming a new group, which reads the topics again and brings the store back whole.
const s = kafkaSettings('concord-test-sink-restored');
const T0 = Date.UTC(2026, 10, 23, 10);
const DAY = '2026-11-23';
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });

describe('concord sink into a store restored from a backup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-sink-restored-dr-'));
  const topics: string[] = [];
  afterAll(async () => {
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused under the group that read past it; a new group restores every row; the up-to-date store resumes as before', async () => {
    const prefix = await seedTopicsUnderNewPrefix('dr', s, topics);
    const input = topicNames(prefix).input('clicks');
    const produce = async (minutes: number[], from: number) => {
      const producer = await BatchProducer.connect(s);
      await producer.send(minutes.map((m, i) => ({
        topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${from + i}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${i}` }),
      })));
      await producer.close();
      const worker = new KafkaWorker({ pipelines: [def], settings: s, workerId: 'dr', partitions: 1, stopWhenIdleMs: 1_500 });
      expect((await worker.run()).results).toBeGreaterThan(0);
    };
    const file = join(dir, 'store.duckdb');
    const group = `${prefix}concord-store-sink`;
    const sink = async (groupId: string) => {
      const store = await openStore(`duckdb:${file}`, { registry: seedRegistry() });
      try {
        const stats = await new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId, stopWhenIdleMs: 1_000 }).run();
        return { stats, rows: (await store.current(def.name, DAY)).map(({ writtenAt: _, ...row }) => row) };
      } finally {
        await store.close();
      }
    };

    await produce([0, 1, 2], 0);
    const first = await sink(group);
    expect(first.rows.length).toBeGreaterThan(0);
    copyFileSync(file, join(dir, 'backup.duckdb'));
    await produce([3, 4, 20], 3);
    const latest = await sink(group);
    expect(latest.rows.length).toBeGreaterThan(first.rows.length);

    copyFileSync(join(dir, 'backup.duckdb'), file);
    const refused = await sink(group).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ConcordError);
    expect((refused as ConcordError).domain).toBe('user');
    expect((refused as Error).message).toMatch(new RegExp(`^this store holds sink group ${group.replace('.', '\\.')}'s reads of ${prefix.replace('.', '\\.')}concord\\.results:0 to \\d+ \\(the group committed \\d+\\).*` +
      `it is older than its group \\(restored from a backup, or copied back\\).*--group ${group.replace('.', '\\.')}-rebuild `));

    // A new group reads the topics from their start: the rows the store had before the backup was restored.
    const rebuilt = await sink(`${group}-rebuild`);
    expect(rebuilt.rows).toEqual(latest.rows);
    // A store as far as its group resumes (nothing new to write), not refused.
    expect((await sink(`${group}-rebuild`)).stats.results).toBe(0);
  }, 180_000);
});
