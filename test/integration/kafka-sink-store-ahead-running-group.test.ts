import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Consumer, type GroupPartitionsAssigner } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { deleteGroups, groupHasMembers, setGroupOffsets } from '../../stream/kafka/admin.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { baseOptions } from '../../stream/kafka/common.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// A sink joining a group whose other members run cannot move the group's offsets (the broker takes them
// only from a group without members): where its store is ahead of the group (a write whose offsets were
// not committed yet, the normal window between the two), it reads from the group's offsets and skips the
// records below the store's (store/sink-resume.ts, floors). Those are in the store already: written once,
// and what follows them is written too.
const s = kafkaSettings('concord-test-sink-ahead');
const T0 = Date.UTC(2026, 10, 23, 10);
const DAY = '2026-11-23';
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const dir = mkdtempSync(join(tmpdir(), 'concord-sink-ahead-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every partition to the members other than the leader (this one): the sink that joins reads them all. */
const allToTheOthers: GroupPartitionsAssigner = (leader, members, topics, metadata) => {
  const others = [...members.keys()].filter((m) => m !== leader);
  const partitions = [...topics].map((topic) => ({ topic, partitions: Array.from({ length: metadata.topics.get(topic)!.partitionsCount }, (_, i) => i) }));
  return [...members.keys()].map((memberId) => ({ memberId, assignments: new Map(memberId === others[0] ? partitions.map((p) => [p.topic, p]) : []) }));
};

describe('concord sink: a store ahead of its group while another member runs', () => {
  const topics: string[] = [];
  const groups: string[] = [];
  afterAll(async () => {
    await deleteGroups(s, groups);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('skips the records below the store\'s offsets, writing none of them twice and losing none after them', async () => {
    const prefix = await seedTopicsUnderNewPrefix('sinkahead', s, topics);
    const names = topicNames(prefix);
    let sent = 0;
    const produce = async (minutes: number[]) => {
      const producer = await BatchProducer.connect(s);
      await producer.send(minutes.map((m) => ({
        topic: names.input('clicks'), partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${sent}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${sent++}` }),
      })));
      await producer.close();
      expect((await new KafkaWorker({ pipelines: [def], settings: s, workerId: 'ahead', partitions: 1, stopWhenIdleMs: 1_500 }).run()).results).toBeGreaterThan(0);
    };
    const group = `${prefix}concord-store-sink`;
    groups.push(group, `${group}-whole`);
    const lines: string[] = [];
    const sink = async (groupId: string, name = 'store') => {
      const store = await openStore(`duckdb:${join(dir, `${name}.duckdb`)}`, { registry: seedRegistry() });
      try {
        const stats = await new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId, stopWhenIdleMs: 1_000, log: (l) => lines.push(l) }).run();
        return { stats, rows: (await store.current(def.name, DAY)).map(({ writtenAt: _, ...row }) => row), late: (await store.lateEvents(def.name, DAY)).map((l) => l.record) };
      } finally {
        await store.close();
      }
    };

    // Minute 20 moves W past minutes 1 and 2: their clicks after it are late events (allowed lateness 0).
    await produce([0, 1, 2, 20, 1, 2, 21]);
    const first = await sink(group);
    expect(first.late.length).toBe(2);
    // The group's commits lost after the store's writes: the group behind the store, on results and late events.
    await setGroupOffsets(s, group, new Map([[names.results, new Map([[0, 0]])], [names.late, new Map([[0, 0]])]]));
    // More after it: minute 3 after minute 22 is late too.
    await produce([22, 3, 23]);

    // Another member of the group runs (here a bare one, leading the group and handing every partition to the sink).
    const member = new Consumer({ ...baseOptions(s), groupId: group, groupProtocol: 'classic', autocommit: false, partitionAssigner: allToTheOthers, heartbeatInterval: 500 });
    const held = await member.consume({ topics: [names.results, names.late, names.watermarks, names.deadLetter], mode: 'committed' });
    try {
      for (const started = Date.now(); !(await groupHasMembers(s, group));) {
        if (Date.now() - started > 30_000) throw new Error('the member never joined its group');
        await new Promise((r) => setTimeout(r, 200));
      }
      lines.length = 0;
      const ahead = await sink(group);
      expect(lines.join('\n')).toMatch(new RegExp(`resuming sink group ${group.replace('.', '\\.')} from this store's offsets, not the group's: ` +
        `${names.results.replace(/\./g, '\\.')}:0 from \\d+, the group had committed 0 \\(\\d+ offsets already in the store, not written again\\)`));
      // One uninterrupted sink of the same topics into a store of its own: each record written once, none lost.
      const whole = await sink(`${group}-whole`, 'whole');
      expect(whole.late.length).toBe(3);
      expect(ahead.late).toEqual(whole.late);
      expect(ahead.rows).toEqual(whole.rows);
      expect(ahead.stats.late).toBe(1);
      expect(first.stats.results + ahead.stats.results).toBe(whole.stats.results);
    } finally {
      await held.close();
      await member.close(true);
    }
  }, 180_000);
});
