/**
 * Watermark alignment (Flink's `withWatermarkAlignment`): a worker stops fetching a partition whose own
 * event time runs more than a set drift ahead of the slowest partition it still waits for, and fetches
 * it again once that one caught up. A partition's own windows fire and are freed by its own W, but the
 * merge stage waits for every partition: a window of a pipeline merged across partitions is final only
 * once the slowest partition passed it, and a rule's forwarded events are held until then (canonical
 * order). So in a backfill whose partitions advance in event time at different speeds (skewed keys,
 * uneven sizes) the merge stage's state, the parts its checkpoints rewrite and the delay
 * before merged results grow with the spread. Pausing bounds the spread.
 *
 * It never changes a result: lateness is judged against each partition's own W, a function of that
 * partition's order alone, which pausing does not change (docs/semantics.md).
 */

/** What alignment needs of one owned partition. */
export interface AlignedPartition {
  partition: number;
  /** Its own W per pipeline (the operators' watermarks). */
  watermarks: readonly number[];
  /** Marked idle: it holds nothing back and is never paused. */
  idle: boolean;
  /** It has records left to read (a partition read to its end cannot be read faster: it holds nothing back). */
  unread: boolean;
}

/**
 * The partitions to pause: not idle, and for some pipeline their own W is more than `maxDriftMs` above
 * the lowest own W of the partitions still reading (not idle, records left). None while no partition is
 * reading. The slowest reading partition is never paused, so a worker always fetches something.
 */
export function partitionsAhead(partitions: readonly AlignedPartition[], maxDriftMs: number): number[] {
  const reading = partitions.filter((p) => !p.idle && p.unread);
  if (reading.length === 0) return [];
  const pipelines = reading[0]!.watermarks.length;
  const slowest = Array.from({ length: pipelines }, (_, i) => Math.min(...reading.map((p) => p.watermarks[i]!)));
  return partitions
    .filter((p) => !p.idle && p.watermarks.some((w, i) => w - slowest[i]! > maxDriftMs))
    .map((p) => p.partition);
}

/**
 * The event-time spread of the partitions that are not idle: the largest gap, over pipelines, between
 * their own W (0 with fewer than two that have seen an event). What alignment bounds; the worker
 * reports the largest it saw.
 */
export function watermarkSpread(partitions: readonly AlignedPartition[]): number {
  let spread = 0;
  const active = partitions.filter((p) => !p.idle);
  const pipelines = active[0]?.watermarks.length ?? 0;
  for (let i = 0; i < pipelines; i++) {
    const ws = active.map((p) => p.watermarks[i]!).filter((w) => Number.isFinite(w));
    if (ws.length > 1) spread = Math.max(spread, Math.max(...ws) - Math.min(...ws));
  }
  return spread;
}
