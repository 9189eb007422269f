import type { TopicSpec } from './client.ts';

/** Concord's topics. Raw input topics are keyed (clicks by url, transactions by user_id). */
export const topics = {
  clicks: 'clicks',
  transactions: 'transactions',
  /** Compacted: key = pipeline|window|key, the latest revision wins. */
  results: 'concord.results',
  late: 'concord.late',
  deadLetter: 'concord.dlq',
} as const;

/** Which field keys a raw topic's records. */
export const topicKeyField: Record<string, string> = { clicks: 'url', transactions: 'user_id' };

export function defaultPartitions(): number {
  const n = Number(process.env.CONCORD_PARTITIONS ?? 6);
  return Number.isInteger(n) && n > 0 ? n : 6;
}

export function concordTopics(partitions = defaultPartitions()): TopicSpec[] {
  return [
    { name: topics.clicks, partitions },
    { name: topics.transactions, partitions },
    { name: topics.results, partitions, config: { 'cleanup.policy': 'compact' } },
    { name: topics.late, partitions },
    { name: topics.deadLetter, partitions },
  ];
}
