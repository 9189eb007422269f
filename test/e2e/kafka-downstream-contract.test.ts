import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, type PipelineDefinition } from '../../pipeline/definition.ts';
import { concord, concordInBackground, jsonLines } from '../fixtures/cli.ts';
import { schemaErrors, type JsonSchema } from '../fixtures/json-schema.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Another team's service reading Concord's output topics with its own client (kafkajs, read_committed), from
// docs/operations.md ("Consuming Concord's topics") and docs/topics.schema.json alone: every record of a real
// run must match the documented schema (a field renamed or dropped fails here), and the latest record per key
// of concord.results, of the definitions' versions, must be what `concord results` exports, cell for cell.
const ws = tempWorkspace('concord-downstream-');
const prefix = `downstream${randomUUID().slice(0, 6)}.`;
const env = { CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '2' };
const kafka = new Kafka({ clientId: 'downstream-contract', brokers: [process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'], logLevel: logLevel.NOTHING });
const docs = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/topics.schema.json'), 'utf8')) as JsonSchema;
const OUTPUTS = ['concord.results', 'concord.late', 'concord.dlq', 'concord.watermarks'] as const;

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (mine.length) await admin.deleteTopics({ topics: mine });
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined); // a group still settling is left to expire
  await admin.disconnect();
  ws.cleanup();
});

interface Consumed { topic: string; partition: number; offset: number; key: string | null; value: string | null; headers: number }

/** Every committed record of the output topics, read as any consumer would: a group of its own, from the start. */
async function consumeAll(): Promise<Consumed[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  for (const t of OUTPUTS) for (const p of await admin.fetchTopicOffsets(prefix + t)) ends.set(`${prefix}${t}:${p.partition}`, Number(p.high));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `${prefix}downstream-reader`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: OUTPUTS.map((t) => prefix + t), fromBeginning: true });
  const records: Consumed[] = [];
  // A partition is read once its last data record came (a transaction's commit marker takes the offset after it).
  const reached = new Set([...ends].filter(([, end]) => end === 0).map(([tp]) => tp));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not every partition read: ${[...ends.keys()].filter((k) => !reached.has(k)).join(', ')}`)), 60_000);
    void consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const offset = Number(message.offset);
        records.push({ topic: topic.slice(prefix.length), partition, offset, key: message.key?.toString('utf8') ?? null, value: message.value?.toString('utf8') ?? null, headers: Object.keys(message.headers ?? {}).length });
        if (offset + 2 >= ends.get(`${topic}:${partition}`)!) reached.add(`${topic}:${partition}`);
        if (reached.size === ends.size) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return records;
}

/** The documented row of one pipeline, closed: its key fields and aggregates (or id field and output) by name. */
function rowSchema(def: PipelineDefinition): JsonSchema {
  const keyValue: JsonSchema = { type: ['string', 'number', 'boolean', 'null'] };
  const base = (docs.$defs as Record<string, JsonSchema>)[def.kind === 'windowed' ? 'windowRow' : 'alertRow']!;
  const own: Record<string, JsonSchema> = def.kind === 'windowed'
    ? Object.fromEntries([...def.key.map((k) => [k, keyValue]), ...def.aggregates.map((a) => [a.output, { type: ['number', 'null'] }])])
    : { [def.key]: keyValue, [def.schema.idField]: { type: 'string' }, [def.rule.output]: def.rule.measure === 'distinct' ? { type: 'array' } : { type: 'number' } };
  return { ...base, properties: { ...base.properties, pipeline: { const: def.name }, ...own }, required: [...base.required!, ...Object.keys(own)], additionalProperties: false };
}

describe('a downstream consumer of the output topics (docs only, its own client)', () => {
  it('finds every record as documented, and rebuilds what `concord results` exports', async () => {
    for (const [schema, count] of [['clicks', '1200'], ['transactions', '600']] as const) {
      const r = concord(['produce', '--schema', schema, '--count', count, '--seed', '7', '--date', '2026-11-23', '--late-fraction', '0.03', '--invalid-fraction', '0.02', ...(schema === 'clicks' ? ['--disorder', '3m'] : [])], env);
      expect(r.code, r.stderr).toBe(0);
    }
    const run = await concordInBackground(['run', '--pipeline', 'all', '--stop-when-idle', '2s'], env);
    expect(run.code, run.stderr).toBe(0);
    const exported = join(ws.dir, 'results.jsonl'), late = join(ws.dir, 'late.jsonl');
    const results = concord(['results', '--output', exported, '--late-output', late], env);
    expect(results.code, results.stderr).toBe(0);

    const records = await consumeAll();
    const pipelines = new Map(seedRegistry().pipelines.map((p) => [p.name, p]));
    const problems: string[] = [];
    const seen = new Map<string, number>();
    for (const r of records) {
      const where = `${r.topic} ${r.partition}@${r.offset}`;
      if (r.value === null || r.key === null) { problems.push(`${where}: key ${r.key}, value ${r.value} (none documented)`); continue; }
      if (r.headers) problems.push(`${where}: ${r.headers} headers (none documented)`);
      const value = JSON.parse(r.value) as Record<string, unknown>;
      const def = pipelines.get(String(value.pipeline));
      const schema: JsonSchema = r.topic === 'concord.results' && def ? rowSchema(def) : (docs.properties as Record<string, JsonSchema>)[r.topic]!;
      problems.push(...schemaErrors(schema, value, docs, where));
      // Keys as documented: results pipeline|cell, late pipeline|event id, dlq its source, watermarks pipeline|partition|group or pipeline|merge.
      const wantedKey = r.topic === 'concord.results' ? (def?.kind === 'rule'
        ? `${def.name}|${String(value[def.key])}\u0000${Date.parse(String(value.ts))}\u0000${String(value[def.schema.idField])}`
        : `${String(value.pipeline)}|${Date.parse(String(value.window_start))}${def?.kind === 'windowed' && def.key.length ? `\u0000${def.key.map((k) => String(value[k])).join('\u0000')}` : '\u0000'}`)
        : r.topic === 'concord.late' ? `${String(value.pipeline)}|${String((value.event as Record<string, unknown>)[def?.schema.idField ?? ''])}`
          : r.topic === 'concord.dlq' ? String(value.source)
            : value.type === 'merge' ? `${String(value.pipeline)}|merge` : `${String(value.pipeline)}|${String(value.partition)}|${prefix}concord-${def?.schema.name}`;
      if (r.key !== wantedKey) problems.push(`${where}: key ${JSON.stringify(r.key)}, documented ${JSON.stringify(wantedKey)}`);
      seen.set(r.topic, (seen.get(r.topic) ?? 0) + 1);
    }
    expect(problems.slice(0, 20)).toEqual([]);
    for (const t of OUTPUTS) expect(seen.get(t), t).toBeGreaterThan(0);

    // The latest record per key (offset order: one key, one partition), of the definitions' versions, is the export.
    const versions = new Map([...pipelines.values()].map((p) => [p.name, definitionVersion(p)]));
    const latest = new Map<string, Record<string, unknown>>();
    let revised = 0;
    for (const r of records.filter((x) => x.topic === 'concord.results').sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const row = JSON.parse(r.value!) as Record<string, unknown>;
      const before = latest.get(r.key!);
      // The highest revision is the latest record: a consumer may use either.
      if (before && typeof row.revision === 'number') expect(row.revision).toBeGreaterThan(before.revision as number);
      if (before) revised++;
      latest.set(r.key!, row);
    }
    expect(revised).toBeGreaterThan(0); // clicks delivered up to 3 min behind (B is 20 s, L 5 min): windows re-emitted
    const rebuilt = [...latest.values()].filter((row) => row.definition_version === versions.get(String(row.pipeline)));
    const byCell = (rows: Record<string, unknown>[]) => rows.map((row) => JSON.stringify(row)).sort();
    expect(byCell(rebuilt)).toEqual(byCell(jsonLines(readFileSync(exported, 'utf8'))));
    // Every late record too, as `results --late-output` exports them.
    const lateRows = records.filter((x) => x.topic === 'concord.late').map((r) => JSON.parse(r.value!) as Record<string, unknown>);
    expect(byCell(lateRows)).toEqual(byCell(jsonLines(readFileSync(late, 'utf8'))));

    // When the day is final: every input partition of every pipeline reported drained on concord.watermarks.
    const marks = records.filter((x) => x.topic === 'concord.watermarks').map((r) => ({ key: r.key!, value: JSON.parse(r.value!) as Record<string, unknown> }));
    const lastByKey = new Map(marks.map((m) => [m.key, m.value]));
    for (const name of pipelines.keys()) {
      const parts = [...lastByKey.values()].filter((v) => v.pipeline === name && v.type === 'partition');
      expect(parts.map((v) => v.partition).sort(), name).toEqual([0, 1]);
      expect(parts.every((v) => v.drained === true), name).toBe(true);
    }
  }, 300_000);
});
