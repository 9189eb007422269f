import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { deleteGroups, groupHasMembers } from '../../stream/kafka/admin.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';

// A sink resumes its group from the store's offsets by setting the group's offsets before it joins
// (store/sink-resume.ts), which the broker takes only from a group without members. A store restored
// behind its group while a sink of that group still runs cannot be caught up that way: refused, exit 2,
// saying to stop the group's sinks; once they are stopped, the next start resumes from the store.
const s = kafkaSettings('concord-test-sink-running');
const T0 = Date.UTC(2026, 10, 23, 10);
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const schemas = testSchemas();

describe('concord sink: a store restored behind a group with a running sink', () => {
  const topics: string[] = [];
  const groups: string[] = [];
  afterAll(async () => {
    await deleteGroups(s, groups);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
    await schemas.drop();
  });

  it('is refused while the group has members, and resumed from the store once they are stopped', async () => {
    const prefix = await seedTopicsUnderNewPrefix('sinkrun', s, topics);
    const names = topicNames(prefix);
    const producer = await BatchProducer.connect(s);
    await producer.send([0, 1, 2, 20].map((m, i) => ({
      topic: names.input('clicks'), partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${i}` }),
    })));
    await producer.close();
    expect((await new KafkaWorker({ pipelines: [def], settings: s, workerId: 'run', partitions: 1, stopWhenIdleMs: 1_500 }).run()).results).toBeGreaterThan(0);
    const schema = schemas.next('sinkrun');
    const group = `${prefix}concord-store-sink`;
    groups.push(group);
    const lines: string[] = [];
    const sinkOf = async (stopWhenIdleMs?: number) => {
      const store = await openStore(PG_URL, { registry: seedRegistry(), schema });
      const sink = new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: group, log: (l) => lines.push(l), ...(stopWhenIdleMs ? { stopWhenIdleMs } : {}) });
      return { sink, store };
    };
    const bounded = async () => {
      const { sink, store } = await sinkOf(1_000);
      try {
        return await sink.run();
      } finally {
        await store.close();
      }
    };
    const all = (await bounded()).results;
    expect(all).toBeGreaterThan(0);

    const running = await sinkOf();
    const ran = running.sink.run();
    for (const started = Date.now(); !(await groupHasMembers(s, group));) {
      if (Date.now() - started > 30_000) throw new Error('the running sink never joined its group');
      await new Promise((r) => setTimeout(r, 200));
    }
    // The store restored from a backup taken after its first record: its offset of the results behind the group's.
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`UPDATE ${schema}.sink_offsets SET next_offset = 1 WHERE group_id = $1 AND topic = $2`, [group, names.results]);
    await client.end();
    const refused = await bounded().then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ConcordError);
    expect((refused as ConcordError).domain).toBe('user');
    expect((refused as Error).message).toMatch(new RegExp(`^this store holds sink group ${group.replace('.', '\\.')}'s reads only to ${names.results.replace(/\./g, '\\.')}:0 offset 1 ` +
      '\\(the group committed \\d+\\), and the group has other members running.*Stop every sink of the group, then start them again'));

    running.sink.stop();
    await ran;
    await running.store.close();
    lines.length = 0;
    // Stopped: resumed from offset 1, every result after it written again (the first one is in the store).
    expect((await bounded()).results).toBe(all - 1);
    expect(lines.join('\n')).toContain(`resuming sink group ${group} from this store's offsets, not the group's: ${names.results}:0 from 1, the group had read to`);
  }, 180_000);
});
