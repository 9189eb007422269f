import { createHash } from 'node:crypto';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { envNumber } from '../../pipeline/env-number.ts';
import { safeName } from '../../pipeline/names.ts';
import type { Registry } from '../../pipeline/registry.ts';
import { readField } from '../../schemas/field-paths.ts';
import { normaliseValue, type EventSchema } from '../../schemas/schema.ts';
import type { TopicSpec } from './client.ts';

/**
 * Concord's topics: one input topic per schema of the definitions (named like the schema; a name Kafka
 * does not take, e.g. with spaces, by its `safeName`), keyed by the schema's `key` field, plus the shared
 * output topics. `CONCORD_TOPIC_PREFIX` (e.g. `test42.`) prefixes every name, so separate runs never
 * share topics.
 */
export function topicNames(prefix = process.env.CONCORD_TOPIC_PREFIX ?? '') {
  return {
    /** The raw topic a schema's events arrive on. */
    input: (schema: string) => `${prefix}${safeName(schema)}`,
    /** Compacted: key = pipeline|window|key, the latest revision wins. */
    results: `${prefix}concord.results`,
    late: `${prefix}concord.late`,
    deadLetter: `${prefix}concord.dlq`,
    /** Compacted: operator state + per-partition watermark, written in the same transaction as offsets. */
    checkpoints: `${prefix}concord.checkpoints`,
    /**
     * Compacted: key = pipeline|input partition|group (a worker; without |group before 2026-12-06) or pipeline|merge (the merge stage): how far
     * each one's committed output reached (stream/watermark-reports.ts), for the store's watermark.
     */
    watermarks: `${prefix}concord.watermarks`,
    /**
     * What a stream group's merge stage combines (keyed by pipeline): partials, forwarded rule events,
     * progress. One per group and schema, like a Kafka Streams application's internal topics: a second
     * group over the same input (e.g. a changed definition) never merges the first one's records.
     */
    partials: (schema: string, group: string) => partialsTopicName(prefix, schema, group),
  };
}

/** Segment size of the compacted checkpoints topic (see concordTopics). */
export const CHECKPOINT_SEGMENT_BYTES = 100 << 20;

/**
 * Age at which the checkpoints topic's active segment rolls, even unfilled (see concordTopics): 1 h.
 * Compaction never touches the active segment, and a restart reads the topic whole: at the broker's
 * 7 days a quiet deployment (a few KB/s of checkpoints) kept every delta of up to a week uncompacted,
 * and every restore read them all (measured: 13 MB for 12 KB of live state after 70,000 transactions).
 */
export const CHECKPOINT_SEGMENT_MS = 60 * 60 * 1000;

/**
 * How long compaction keeps a checkpoint tombstone (a window dropped, a rule's key forgotten) after it
 * cleaned the record it deletes: 1 h, not the broker's 24 h. A restore reads them all: a rule over keys
 * that come and go leaves one a key (measured: after compaction, 5,638 of the 5,849 records a restore
 * read were tombstones, 89%). A reader only needs the tombstone while it reads the topic (seconds).
 */
export const CHECKPOINT_TOMBSTONE_MS = 60 * 60 * 1000;

/** Kafka's limit on a topic name's length. */
const MAX_TOPIC_NAME = 249;

function partialsTopicName(prefix: string, schema: string, group: string): string {
  const name = `${prefix}concord.partials.${safeName(schema)}.${safeName(group)}`;
  if (name.length <= MAX_TOPIC_NAME) return name;
  return `${prefix}concord.partials.${createHash('sha256').update(`${schema}\0${group}`).digest('hex').slice(0, 32)}`;
}

/** The partials topic of one stream group over one schema (see topicNames().partials). */
export function partialsTopic(schema: string, group: string, partitions = defaultPartitions(), prefix?: string): TopicSpec {
  // Not compacted: the merge stage reads every partial, forwarded event and progress record in order.
  return { name: topicNames(prefix).partials(schema, group), partitions, config: { 'max.message.bytes': String(16 << 20) } };
}

/**
 * Consumer groups carry the topic prefix too: groups of separate runs must never mix members. A name with
 * whitespace (the group of a schema named `sensor readings`) takes its `safeName`: the Kafka client
 * refuses group ids and static member ids with whitespace, and every worker of such a schema failed at
 * start. Other names stay as they are, so existing groups keep their committed offsets.
 */
export function groupName(name: string, prefix?: string): string {
  return `${prefix ?? process.env.CONCORD_TOPIC_PREFIX ?? ''}${kafkaIdPart(name)}`;
}

/** A name as part of a Kafka group or member id: as it is, or its `safeName` when it holds whitespace (see groupName). */
export function kafkaIdPart(name: string): string {
  return /\s/.test(name) ? safeName(name) : name;
}

/** The raw topic a schema's events arrive on. */
export function inputTopic(schema: string, prefix?: string): string {
  return topicNames(prefix).input(schema);
}

/** The field a schema's records are keyed and partitioned by: its `key`, else its id field. */
export function partitionKeyField(schema: EventSchema): string {
  return schema.keyField ?? schema.idField;
}

/** The record key of an event whose key field is absent or null: one key, so they share a partition too. */
export const NULL_RECORD_KEY = '\u0001null';

/**
 * The Kafka record key of one input line, parsed (`raw`): the normalised value of the schema's
 * partition key field as text, so `"12.30"` and `12.3` of a decimal(2) field land in one partition.
 * Null when the line is not a JSON object or the value does not fit the field's type: such a line is
 * rejected by the workers anyway (dead-lettered), wherever it lands.
 */
export function recordKey(schema: EventSchema, raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const field = partitionKeyField(schema);
  const def = schema.fields[field];
  if (!def) return null;
  try {
    // Read as the workers read it (its `aliases`, its `paths`): a renamed key keyed null put one user in
    // two partitions. A value on a path that is no object throws: the workers refuse such a line.
    const value = readField(schema, raw as Record<string, unknown>, field);
    if (value === undefined || value === null) return NULL_RECORD_KEY;
    return String(normaliseValue(def, value, field, schema.epochUnit, schema.timeZone));
  } catch {
    return null;
  }
}

/**
 * Whether a pipeline's per-partition results would be wrong because one of its keys spans partitions:
 * a windowed pipeline whose key does not include the partition key (unkeyed, like unique visitors, or
 * keyed by another field), or a rule keyed by another field than the partition key. Such a pipeline
 * publishes partials (windowed) or the events it accepted (rules) to the merge stage, never results.
 */
export function needsMergeStage(def: PipelineDefinition): boolean {
  const partitionKey = partitionKeyField(def.schema);
  return def.kind === 'windowed' ? !def.key.includes(partitionKey) : def.key !== partitionKey;
}

/** Partitions of the topics Concord creates: env CONCORD_PARTITIONS, default 6 (a bad value is refused, not taken as 6). */
export function defaultPartitions(): number {
  return envNumber('CONCORD_PARTITIONS', 6, { integer: true, min: 1, unit: 'partitions' });
}

/**
 * The topics Concord shares for these schemas (a registry: all of its schemas): one input topic per
 * schema and the output topics. Created idempotently by whoever needs them; a stream group's own
 * partials topic (partialsTopic) by its workers and merge members.
 */
export function concordTopics(schemas: Registry | readonly EventSchema[], partitions = defaultPartitions(), prefix?: string): TopicSpec[] {
  const t = topicNames(prefix);
  const names = Array.isArray(schemas) ? (schemas as readonly EventSchema[]).map((s) => s.name) : [...(schemas as Registry).schemas.keys()];
  return [
    ...names.map((schema) => ({ name: t.input(schema), partitions })),
    // One transaction writes a batch of records per partition: thousands of results, or one result or
    // late event of an event with a 400 KB field, outgrow the 1 MiB default (the broker then refuses it).
    { name: t.results, partitions, config: { 'cleanup.policy': 'compact', 'max.message.bytes': String(16 << 20) } },
    { name: t.late, partitions, config: { 'max.message.bytes': String(16 << 20) } },
    { name: t.deadLetter, partitions, config: { 'max.message.bytes': String(16 << 20) } },
    // One partition: a few small records per pipeline and input partition, read whole by the sink at its start.
    { name: t.watermarks, partitions: 1, config: { 'cleanup.policy': 'compact' } },
    // Operator state can outgrow the 1 MiB default record size while a watermark is held back. Every
    // transaction rewrites the state of the partitions it touched (~7 MB/s in the soak at 1,000 events/s),
    // and compaction only cleans closed segments: at the broker's 1 GiB the topic held 0.8-2.3 GB on disk
    // for ~3 MB of live state. 100 MiB segments, as Kafka's own __consumer_offsets uses.
    // A segment rolls at 100 MiB or after an hour, whichever comes first, so a restore reads at most about
    // that much not compacted yet, besides the live state (CHECKPOINT_SEGMENT_MS) and an hour's tombstones.
    {
      name: t.checkpoints, partitions: 1,
      config: {
        'cleanup.policy': 'compact', 'max.message.bytes': String(64 << 20), 'segment.bytes': String(CHECKPOINT_SEGMENT_BYTES),
        'segment.ms': String(CHECKPOINT_SEGMENT_MS), 'delete.retention.ms': String(CHECKPOINT_TOMBSTONE_MS),
      },
    },
  ];
}
