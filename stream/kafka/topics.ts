import type { PipelineDefinition, WindowedPipeline } from '../../pipeline/definition.ts';
import type { TopicSpec } from './client.ts';

/**
 * Concord's topics. Raw input topics are keyed (clicks by url, transactions by user_id).
 * `CONCORD_TOPIC_PREFIX` (e.g. `test42.`) prefixes every name, so separate runs never share topics.
 */
export function topicNames(prefix = process.env.CONCORD_TOPIC_PREFIX ?? '') {
  return {
    clicks: `${prefix}clicks`,
    transactions: `${prefix}transactions`,
    /** Compacted: key = pipeline|window|key, the latest revision wins. */
    results: `${prefix}concord.results`,
    late: `${prefix}concord.late`,
    deadLetter: `${prefix}concord.dlq`,
    /** Compacted: operator state + per-partition watermark, written in the same transaction as offsets. */
    checkpoints: `${prefix}concord.checkpoints`,
    /** Per-partition partial aggregates and progress of unkeyed pipelines, for the merge stage (keyed by pipeline). */
    partials: (schema: string) => `${prefix}concord.partials.${schema}`,
  };
}

export const topics = topicNames();

/** Consumer groups carry the topic prefix too: groups of separate runs must never mix members. */
export function groupName(name: string, prefix?: string): string {
  return `${prefix ?? process.env.CONCORD_TOPIC_PREFIX ?? ''}${name}`;
}

/** The raw topic a schema's events arrive on. */
export function inputTopic(schema: string, prefix?: string): string {
  return `${prefix ?? process.env.CONCORD_TOPIC_PREFIX ?? ''}${schema}`;
}

/** Which field keys a raw topic's records. */
export const topicKeyField: Record<string, string> = { clicks: 'url', transactions: 'user_id' };

/**
 * A windowed pipeline whose key does not include the topic's partition key (unkeyed, like unique
 * visitors, or keyed by another field) has the events of one (window, key) in many partitions: its
 * per-partition results are partials for the merge stage, not competing totals.
 */
export function needsMergeStage(def: PipelineDefinition, partitionKey: string | undefined): def is WindowedPipeline {
  return def.kind === 'windowed' && (partitionKey === undefined || !def.key.includes(partitionKey));
}

export function defaultPartitions(): number {
  const n = Number(process.env.CONCORD_PARTITIONS ?? 6);
  return Number.isInteger(n) && n > 0 ? n : 6;
}

export function concordTopics(partitions = defaultPartitions(), prefix?: string): TopicSpec[] {
  const t = topicNames(prefix);
  return [
    { name: t.clicks, partitions },
    { name: t.transactions, partitions },
    { name: t.results, partitions, config: { 'cleanup.policy': 'compact' } },
    { name: t.late, partitions },
    { name: t.deadLetter, partitions },
    // Operator state can outgrow the 1 MiB default record size while a watermark is held back.
    { name: t.checkpoints, partitions: 1, config: { 'cleanup.policy': 'compact', 'max.message.bytes': String(64 << 20) } },
    // Not compacted: the merge stage reads every partial and progress record in order.
    ...['clicks', 'transactions'].map((schema) => ({ name: t.partials(schema), partitions, config: { 'max.message.bytes': String(16 << 20) } })),
  ];
}
