import { missingTopics } from './kafka/admin.ts';
import type { KafkaSettings } from './kafka/client.ts';
import { readLatestByKey } from './kafka/read-to-end.ts';
import { partitionHead, storedPartitionCounts } from './partition-checkpoint.ts';
import { addPartitionCounts, countsSince, emptyPartitionCounts, type PartitionCounts } from './step-counts.ts';

/** One consumer group of stream workers over one input: what its checkpoints are found under. */
export interface CountedGroup {
  schema: string;
  group: string;
  /** The input topic. */
  topic: string;
  /** Its pipelines (the checkpoint records of a partition are one per pipeline). */
  pipelines: readonly string[];
}

/** Per group (in the order given), per input partition with a checkpoint: its cumulative counts. */
export type GroupsCounts = Array<Map<number, PartitionCounts>>;

/**
 * The groups' committed counts as their checkpoints hold them now (stream/step-counts.ts,
 * PartitionCounts): the checkpoints topic read to its end, committed records only.
 */
export async function readGroupsCounts(s: KafkaSettings, checkpoints: string, groups: readonly CountedGroup[]): Promise<GroupsCounts> {
  // A first run's workers make the topic: before them, nothing is counted yet.
  if ((await missingTopics(s, [checkpoints])).length > 0) return groups.map(() => new Map());
  return storedGroupsCounts(await readLatestByKey(s, checkpoints), groups);
}

/** The groups' counts in `stored` (the latest checkpoint record per key): per partition that has a record. */
export function storedGroupsCounts(stored: ReadonlyMap<string, string>, groups: readonly CountedGroup[]): GroupsCounts {
  return groups.map((g) => {
    // `group|topic|`: the head of partition 0 without its number.
    const prefix = partitionHead(g.group, g.topic, 0).slice(0, -1);
    const partitions = new Set<number>();
    for (const key of stored.keys()) {
      if (!key.startsWith(prefix)) continue;
      const p = /^(\d+)\|/.exec(key.slice(prefix.length));
      if (p) partitions.add(Number(p[1]));
    }
    return new Map([...partitions].map((p) => [p, storedPartitionCounts(stored, partitionHead(g.group, g.topic, p), g.pipelines)]));
  });
}

/**
 * What each group counted between two readings (`before`: at a run's start, `after`: at its end),
 * summed over its partitions: every input offset the group committed in between, once, whichever
 * worker committed it, killed ones included.
 */
export function groupsCountsSince(after: GroupsCounts, before: GroupsCounts): PartitionCounts[] {
  return after.map((partitions, i) => {
    const total = emptyPartitionCounts();
    for (const [p, counts] of partitions) addPartitionCounts(total, countsSince(counts, before[i]?.get(p) ?? emptyPartitionCounts()));
    return total;
  });
}
