import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { tumbling } from '../../pipeline/windows.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// Two teams on one PostgreSQL, the second team's sink started without its CONCORD_STORE_SCHEMA: it wrote
// its page_views_per_minute (2 min windows, a filter) into the first team's store, beside their 1 min
// rows of the same name: 8,718 rows of another definition in one day, and all it said was "1680
// contradict rows another run stored ... backfill them". The sink now says that the day's stream rows
// come from two definitions, naming both, as `stream --store` does.
const s = kafkaSettings('concord-test-mixed-store');
const M = 60_000;
const T0 = Date.UTC(2026, 10, 23, 10);
const first = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
if (first.kind !== 'windowed') throw new Error('page_views_per_minute is windowed');
const second: PipelineDefinition = { ...first, window: tumbling(90_000) }; // 10:01:30, 10:04:30: cells the first has not

describe('concord sink into a store another definition of its pipeline wrote', () => {
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('says which days now mix two definitions, with the rows of each and what to check', async () => {
    expect(definitionVersion(second)).not.toBe(definitionVersion(first));
    const prefix = await seedTopicsUnderNewPrefix('ms', s, topics);
    const producer = await BatchProducer.connect(s);
    const input = topicNames(prefix).input('clicks');
    await producer.send(Array.from({ length: 12 }, (_, i) => ({
      topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts: T0 + i * 30_000 + 10, url: '/a', visitor_id: `v${i}` }),
    })));
    await producer.close();
    // Two groups (two deployments) over the same topics write results of both definitions.
    for (const [def, group] of [[first, 'one'], [second, 'two']] as const) {
      await new KafkaWorker({ pipelines: [def], settings: s, groupId: `${prefix}${group}`, workerId: 'ms', partitions: 1, stopWhenIdleMs: 1_500 }).run();
    }
    const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
    stores.push(store);
    const sink = async (def: PipelineDefinition, group: string) => {
      const lines: string[] = [];
      await new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: `${prefix}sink-${group}`, stopWhenIdleMs: 1_000, log: (l) => lines.push(l) }).run();
      return lines;
    };
    expect((await sink(first, 'one')).join('\n')).not.toMatch(/two definitions/);
    const said = (await sink(second, 'two')).join('\n');
    expect(said).toContain('page_views_per_minute: the stream\'s rows of 2026-11-23 now come from two definitions: 2026-11-23: ');
    expect(said).toMatch(new RegExp(`${definitionVersion(first)} \\(\\d+ rows\\)`));
    expect(said).toMatch(new RegExp(`${definitionVersion(second)} \\(\\d+ rows, this sink's\\)`));
    expect(said).toContain('CONCORD_STORE_SCHEMA');
    expect(said).toContain('concord backfill --from 2026-11-23 --to 2026-11-23 --pipeline page_views_per_minute');
  }, 120_000);
});
