import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { deleteGroups, deleteRecordsBefore, endOffsets, setGroupOffsets } from '../../stream/kafka/admin.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';

// Found walking disaster recovery (2026-12-07): a store restored from a backup under a sink that kept
// its group resumed at the group's committed offsets, past everything written since the backup:
// `0 results`, exit 0, and those rows never came back. The store keeps how far each group's reads are in
// it (sink_offsets, in each write's transaction); since 2026-12-07 afternoon those are where the group
// resumes (before: refused, exit 2, naming a new group), as Kafka Connect's sinks that keep their
// offsets in the target do: the store catches up under its own group, exactly once.
const s = kafkaSettings('concord-test-sink-restored');
const T0 = Date.UTC(2026, 10, 23, 10);
const DAY = '2026-11-23';
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });

/** A store of each backend, and its backup: the DuckDB file copied; the PostgreSQL schema's rows copied to another schema and back. */
interface Backend {
  name: string;
  /** The store `name` (two stores of one test: the sunk one and the uninterrupted one). */
  open(name: string): ReturnType<typeof openStore>;
  backup(): Promise<void>;
  restore(): Promise<void>;
  /** The CLI's flags and environment for the store `store`. */
  cli: { args: string[]; env: Record<string, string> };
}

function duckdbBackend(dir: string): Backend {
  const file = (name: string) => join(dir, `${name}.duckdb`);
  return {
    name: 'DuckDB',
    open: (name) => openStore(`duckdb:${file(name)}`, { registry: seedRegistry() }),
    backup: async () => copyFileSync(file('store'), file('backup')),
    restore: async () => copyFileSync(file('backup'), file('store')),
    cli: { args: ['--store', `duckdb:${file('store')}`], env: {} },
  };
}

function postgresBackend(schemas: ReturnType<typeof testSchemas>): Backend {
  const store = schemas.next('sinkdr'), whole = schemas.next('sinkdr'), copy = schemas.next('sinkdr');
  // pg_dump -n / psql would do the same; its rows, table by table, need no client tools on the machine.
  const copyRows = async (from: string, to: string, create: boolean) => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const tables = (await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, [from])).rows.map((r: { table_name: string }) => r.table_name);
      await client.query('BEGIN');
      if (create) await client.query(`DROP SCHEMA IF EXISTS ${to} CASCADE; CREATE SCHEMA ${to}`);
      for (const t of tables) {
        if (create) await client.query(`CREATE TABLE ${to}.${t} AS TABLE ${from}.${t}`);
        else await client.query(`DELETE FROM ${to}.${t}; INSERT INTO ${to}.${t} SELECT * FROM ${from}.${t}`);
      }
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  };
  return {
    name: 'PostgreSQL',
    open: (name) => openStore(PG_URL, { registry: seedRegistry(), schema: name === 'store' ? store : whole }),
    backup: () => copyRows(store, copy, true),
    restore: () => copyRows(copy, store, false),
    cli: { args: ['--store', PG_URL], env: { CONCORD_STORE_SCHEMA: store } },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'concord-sink-restored-dr-'));
const schemas = testSchemas();
afterAll(async () => {
  await schemas.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([duckdbBackend(dir), postgresBackend(schemas)])('concord sink into a $name store restored from a backup', (backend) => {
  const topics: string[] = [];
  const groups: string[] = [];
  afterAll(async () => {
    await deleteGroups(s, groups);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('resumes from the store\'s offsets: the rows since the backup are written again, once; a topic that lost them is refused', async () => {
    const prefix = await seedTopicsUnderNewPrefix('sinkdr', s, topics);
    const names = topicNames(prefix);
    const input = names.input('clicks');
    let sent = 0;
    const produce = async (minutes: number[]) => {
      const producer = await BatchProducer.connect(s);
      await producer.send(minutes.map((m) => ({
        topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${sent}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${sent++}` }),
      })));
      await producer.close();
      const worker = new KafkaWorker({ pipelines: [def], settings: s, workerId: 'dr', partitions: 1, stopWhenIdleMs: 1_500 });
      expect((await worker.run()).results).toBeGreaterThan(0);
    };
    const group = `${prefix}concord-store-sink`;
    groups.push(group, `${group}-whole`);
    const lines: string[] = [];
    const sink = async (groupId: string, name = 'store') => {
      const store = await backend.open(name);
      try {
        const stats = await new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId, stopWhenIdleMs: 1_000, log: (l) => lines.push(l) }).run();
        return {
          stats,
          rows: (await store.current(def.name, DAY)).map(({ writtenAt: _, ...row }) => row),
          late: (await store.lateEvents(def.name, DAY)).map((l) => l.record),
          w: await store.watermark(def.name),
        };
      } finally {
        await store.close();
      }
    };

    await produce([0, 1, 2]);
    const first = await sink(group);
    expect(first.rows.length).toBeGreaterThan(0);
    expect(first.late).toEqual([]);
    await backend.backup();
    // Minute 20 moves W past minutes 1 and 2: their clicks after it are late events (allowed lateness 0).
    await produce([3, 4, 20, 1, 2, 21]);
    const latest = await sink(group);
    expect(latest.rows.length).toBeGreaterThan(first.rows.length);
    expect(latest.late.length).toBe(2);

    // The backup restored under the same group: resumed from its offsets, not refused, not "0 results".
    await backend.restore();
    lines.length = 0;
    const restored = await sink(group);
    expect(restored.stats.results).toBe(latest.stats.results);
    expect(restored.stats.late).toBe(2);
    expect(lines.join('\n')).toMatch(new RegExp(`sink: resuming sink group ${group.replace('.', '\\.')} from this store's offsets, not the group's: ` +
      `${names.results.replace(/\./g, '\\.')}:0 from (\\d+), the group had read to (\\d+) \\(\\d+ offsets read and written again\\)`));
    // One uninterrupted sink of the same topics into a store of its own: cell for cell, revisions, late events and W.
    const whole = await sink(`${group}-whole`, 'whole');
    expect(restored.rows).toEqual(whole.rows);
    expect(restored.rows).toEqual(latest.rows);
    expect(restored.late).toEqual(whole.late);
    expect(restored.w).toBe(whole.w);
    expect(restored.w).toBe(latest.w);
    // Caught up: nothing is written twice, also under a group moved back behind its store.
    expect((await sink(group)).stats.results).toBe(0);
    await setGroupOffsets(s, group, new Map([[names.results, new Map([[0, 0]])], [names.late, new Map([[0, 0]])]]));
    const behind = await sink(group);
    expect(behind.stats).toMatchObject({ results: 0, late: 0 });
    expect(behind.rows).toEqual(whole.rows);

    // Retention deleted late events the restored backup never had: refused (exit 2), saying what is lost and what to do.
    await backend.restore();
    const lateEnd = (await endOffsets(s, names.late)).get(0)!;
    await deleteRecordsBefore(s, names.late, new Map([[0, lateEnd]]));
    const refused = await sink(group).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ConcordError);
    expect((refused as ConcordError).domain).toBe('user');
    expect((refused as Error).message).toMatch(new RegExp(`^this store holds sink group ${group.replace('.', '\\.')}'s reads to offsets the topics no longer hold: ` +
      `${names.late.replace(/\./g, '\\.')}:0 offsets 0 to ${lateEnd - 1} \\(${lateEnd} offsets\\) were deleted by their retention .*--group ${group.replace('.', '\\.')}-rebuild; then reconcile`));
    const cli = concord(['sink', '--from-kafka', '--group', group, '--stop-when-idle', '1s', ...backend.cli.args], { CONCORD_TOPIC_PREFIX: prefix, ...backend.cli.env });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(`this store holds sink group ${group}'s reads to offsets the topics no longer hold: ${names.late}:0 offsets 0 to ${lateEnd - 1}`);
  }, 240_000);
});
