import type { PipelineDefinition } from '../pipeline/definition.ts';
import type { OutRecord } from './kafka/client.ts';
import { storedPartKeys } from './merge-checkpoints.ts';
import { checkpointKey, type CheckpointedPartition, type PartitionCheckpoint } from './partition-checkpoint.ts';
import { partitionCountsToJson } from './step-counts.ts';

/**
 * `--upgrade-from <release>` (a rolling upgrade, as Kafka Streams' `upgrade.from`): the releases whose
 * checkpoints this one can write. Under it a worker and a merge stage still restore every format, but
 * write only what that release reads, so its workers in the same group can take over any partition:
 *
 * - a worker writes each (partition, pipeline) whole, format 2, one record under `group|topic|p|pipeline`;
 * - a merge stage writes its head without a format (1202aee's) and a rule's operator whole in it (its
 *   held events stay records of their own, as 1202aee wrote them); a windowed stage is written as before
 *   (1202aee wrote its windows as parts too);
 * - the part records a newer checkpoint left under what it rewrites whole are deleted (tombstones) in the
 *   same transaction. 1202aee's worker never reads them, but its merge stage would take a rule's key
 *   parts for held events; and a newer worker, restoring a whole record, must find no part but its own.
 *   So after every write the topic holds what 1202aee itself would have written.
 *
 * Everything else a worker or merge stage of this release writes, 1202aee reads alike (results, late
 * events, dead letters and the partials topic are unchanged) or never reads (concord.watermarks).
 */
export const UPGRADE_FROM_RELEASES = ['1202aee'] as const;
export type UpgradeFrom = (typeof UPGRADE_FROM_RELEASES)[number];

/** The worker checkpoint format 1202aee reads: every operator whole in its record (no parts). */
export const WHOLE_CHECKPOINT_FORMAT = 2;

/**
 * A worker's partition restored from `stored` under `head`: the part records (a rule's keys, a window's
 * cells) its whole checkpoint deletes, and whether it is rewritten at the next transaction though nothing
 * changed (so a newer checkpoint, which the older release refuses, is replaced at once, not at the
 * partition's next event).
 */
export function wholeRewrite(
  stored: ReadonlyMap<string, string>, head: string, pipelines: readonly PipelineDefinition[], restored: readonly (PartitionCheckpoint | undefined)[],
): { leftParts: string[]; dirty: boolean } {
  const leftParts = pipelines.flatMap((def) => storedPartKeys(stored, head, def.name));
  return { leftParts, dirty: leftParts.length > 0 || restored.some((cp) => cp !== undefined && cp.format !== WHOLE_CHECKPOINT_FORMAT) };
}

/**
 * One partition's checkpoint as 1202aee writes it: per pipeline its operator whole, format 2; with a
 * tombstone for each part record `leftParts` names (wholeRewrite at its restore).
 */
export function wholePartitionCheckpointRecords(
  checkpoints: string, head: string, pipelines: readonly PipelineDefinition[], state: CheckpointedPartition, leftParts: readonly string[], topicId?: string,
): OutRecord[] {
  const records: OutRecord[] = leftParts.map((key) => ({ topic: checkpoints, key, value: null }));
  pipelines.forEach((def, i) => {
    const op = state.operators[i]!;
    // Taken and dropped: an operator restored from parts tracks what changed until it is asked.
    op.checkpoint?.();
    const w = op.watermark;
    const cp: PartitionCheckpoint = {
      format: WHOLE_CHECKPOINT_FORMAT, next: state.next, watermark: Number.isFinite(w) ? w : null, idle: state.idle, operator: op.snapshot(),
      ...(topicId === undefined ? {} : { topic_id: topicId }),
      // 1202aee ignores the field; this release's counts stay whole through the upgrade.
      ...(i === 0 && state.counts !== undefined ? { counts: partitionCountsToJson(state.counts) } : {}),
    };
    records.push({ topic: checkpoints, key: checkpointKey(head, def.name), value: JSON.stringify(cp) });
  });
  return records;
}
