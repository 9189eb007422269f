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
  ];
}
