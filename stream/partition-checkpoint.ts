import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import type { OutRecord } from './kafka/client.ts';
import { pipelineCheckpoint, storedParts } from './merge-checkpoints.ts';
import type { OperatorSnapshot, StreamOperator } from './operators/index.ts';
import { partitionCountsFromJson, partitionCountsToJson, type PartitionCounts, type PartitionCountsJson } from './step-counts.ts';

/**
 * A stream worker's checkpoints: one record per (input partition, pipeline) on the compacted checkpoint
 * topic, keyed `group|topic|partition|pipeline`, written in the transaction that commits the partition's
 * offset and outputs. Incremental: a transaction rewrites only the partitions whose state changed since
 * the last one (records consumed, windows fired or dropped, events decided or forgotten); compaction
 * keeps the latest record per key, which is the partition's state as of its last change. A partition
 * whose record is not rewritten is exactly as its last record says: its offset moves only with its
 * own records, and everything else it holds only changes through the operators, which report it.
 * An operator that checkpoints incrementally writes its head in that record and each part changed
 * since its last one (a rule's key, a windowed operator's window cell) as a record of its own,
 * `group|topic|partition|pipeline|<sha256 of its id>` (a tombstone when it is dropped), in the same
 * transaction: the head plus the parts under its prefix are its state (the merge stage's scheme,
 * stream/merge-checkpoints.ts).
 */
export const CHECKPOINT_FORMAT = 4;
/**
 * Formats this version restores: 2 wrote every operator whole (restored as it is; the first checkpoint
 * after it writes every part). 3 may keep a rule's keys in parts, 4 a windowed operator's cells too: an
 * older Concord refuses them rather than restore an empty head as an empty state.
 */
const RESTORABLE_FORMATS: readonly number[] = [2, 3, 4];

export interface PartitionCheckpoint {
  /** 2: per-partition own watermark in the operator, no combined W (format 1 raised W to it); 3: rule keys in parts; 4: window cells in parts. */
  format: number;
  /** Next offset to read (the offset committed with the partition's last change). */
  next: number;
  /** The partition's own W (null = -infinity): what judges its events, the same in every run. */
  watermark: number | null;
  /** Whether the partition was idle (not holding back firing) when written. */
  idle: boolean;
  /** The operator's state, its own single-partition watermark and how far its windows were fired. */
  operator: OperatorSnapshot;
  /**
   * The input topic's id (absent in older checkpoints): a topic deleted and made again starts its offsets
   * at 0, and `next` would skip its records.
   */
  topic_id?: string;
  /**
   * What the partition's committed steps counted from the group's first read of it on (PartitionCounts),
   * in the record of the first pipeline only (all of a partition's records are written together). Absent
   * in checkpoints written before 2026-12-08, and in the other pipelines' records: read as 0. Not a new
   * format: a Concord that does not know the field restores the checkpoint as before.
   */
  counts?: PartitionCountsJson;
}

/** The prefix of one partition's checkpoint records: `group|topic|partition`. */
export function partitionHead(groupId: string, topic: string, partition: number): string {
  return `${groupId}|${topic}|${partition}`;
}

/** The key of one (partition, pipeline) checkpoint record (the operator's head, when it has parts). */
export function checkpointKey(head: string, pipeline: string): string {
  return `${head}|${pipeline}`;
}

/** One partition's state as the worker holds it, for checkpointing. */
export interface CheckpointedPartition {
  readonly operators: readonly StreamOperator[];
  readonly next: number;
  readonly idle: boolean;
  /** Its committed steps' counts, cumulative (PartitionCheckpoint.counts). */
  readonly counts?: PartitionCounts;
}

/**
 * The checkpoint records of one partition (every pipeline, so they always agree on the offset): per
 * pipeline its record and, for an incremental operator, the parts changed since its last checkpoint.
 * `head`: partitionHead.
 */
export function partitionCheckpointRecords(
  checkpoints: string, head: string, pipelines: readonly PipelineDefinition[], state: CheckpointedPartition, topicId?: string,
): OutRecord[] {
  const records: OutRecord[] = [];
  pipelines.forEach((def, i) => {
    const op = state.operators[i]!;
    const w = op.watermark;
    const cp: PartitionCheckpoint = {
      format: CHECKPOINT_FORMAT, next: state.next, watermark: Number.isFinite(w) ? w : null, idle: state.idle,
      operator: pipelineCheckpoint(checkpoints, head, def.name, op, records),
      ...(topicId === undefined ? {} : { topic_id: topicId }),
      ...(i === 0 && state.counts !== undefined ? { counts: partitionCountsToJson(state.counts) } : {}),
    };
    records.push({ topic: checkpoints, key: checkpointKey(head, def.name), value: JSON.stringify(cp) });
  });
  return records;
}

/**
 * What to do about a checkpoint (a worker's or the merge stage's) of another version of a pipeline: the
 * definition changed, or the group is another deployment's whose pipeline shares the name (a worker
 * started with another team's CONCORD_TOPIC_PREFIX finds their checkpoints; a new --group would run this
 * definition over their topics).
 */
export const OTHER_VERSION_ADVICE = 'if you changed the definition, run it under a new --group; if this group is another deployment\'s, ' +
  'check CONCORD_TOPIC_PREFIX and --definitions (CONCORD_DEFINITIONS): each deployment runs under its own prefix';

/**
 * The stored checkpoints of one partition, one per pipeline (undefined: none yet), checked: written by
 * a format this version restores, for these definitions, in one transaction (one offset); with each
 * pipeline's stored parts (JSON; an operator whose head holds its whole state ignores them).
 */
export function readPartitionCheckpoints(
  stored: ReadonlyMap<string, string>, head: string, pipelines: readonly PipelineDefinition[], source: string, topicId?: string,
): { checkpoints: (PartitionCheckpoint | undefined)[]; parts: string[][]; next: number; counts: PartitionCounts } {
  // Every changed pipeline named at once: a file edited in two places was refused for the first only.
  const otherVersion: string[] = [];
  const checkpoints = pipelines.map((def) => {
    const text = stored.get(checkpointKey(head, def.name));
    if (!text) return undefined;
    const cp = JSON.parse(text) as Partial<PartitionCheckpoint>;
    if (!RESTORABLE_FORMATS.includes(cp.format ?? 1)) {
      const which = (cp.format ?? 1) > CHECKPOINT_FORMAT ? 'a newer' : 'an older';
      throw new ConcordError(`${def.name}: the checkpoint of ${source} was written by ${which} Concord (format ${cp.format ?? 1}); use a new --group`, { domain: 'user' });
    }
    if (cp.operator!.definition !== definitionVersion(def)) {
      otherVersion.push(def.name);
      return undefined;
    }
    if (topicId !== undefined && cp.topic_id !== undefined && cp.topic_id !== topicId) {
      throw new ConcordError(
        `the checkpoint of ${source} is of the topic as it was before it was deleted and made again (topic id ${cp.topic_id} then, ${topicId} now): ` +
          'its offsets start at 0 again and the checkpoint would skip its records. Run under a new --group (and reconcile the days it covers from the archive)',
        { domain: 'user' },
      );
    }
    return cp as PartitionCheckpoint;
  });
  if (otherVersion.length === 1) {
    throw new ConcordError(`${otherVersion[0]}: the checkpoint of ${source} is from another definition version; ${OTHER_VERSION_ADVICE}`, { domain: 'user' });
  }
  if (otherVersion.length > 1) {
    throw new ConcordError(`${otherVersion.join(', ')}: the checkpoints of ${source} are from other definition versions of each; ${OTHER_VERSION_ADVICE}`, { domain: 'user' });
  }
  const nexts = new Set(checkpoints.map((cp) => cp?.next ?? 0));
  if (nexts.size > 1) throw new ConcordError(offsetsDisagree(source, pipelines, checkpoints), { domain: 'user' });
  const parts = pipelines.map((def, i) => (checkpoints[i] ? storedParts(stored, head, def.name) : []));
  return { checkpoints, parts, next: checkpoints[0]?.next ?? 0, counts: partitionCountsFromJson(checkpoints.find((cp) => cp?.counts !== undefined)?.counts) };
}

/**
 * One partition's cumulative counts as its stored checkpoint records say them (0 without any), whatever
 * the definition version: what `run --workers N` sums (stream/step-counts.ts, PartitionCounts).
 */
export function storedPartitionCounts(stored: ReadonlyMap<string, string>, head: string, pipelineNames: readonly string[]): PartitionCounts {
  for (const name of pipelineNames) {
    const text = stored.get(checkpointKey(head, name));
    if (!text) continue;
    try {
      const cp = JSON.parse(text) as Partial<PartitionCheckpoint>;
      if (cp.counts !== undefined) return partitionCountsFromJson(cp.counts);
    } catch {
      // Not this version's checkpoint: the worker that restores it says so.
    }
  }
  return partitionCountsFromJson(undefined);
}

/**
 * Why one partition's checkpoints name different offsets, for the user: a group's checkpoints are
 * written in one transaction per step, so they differ only when the group ran another set of pipelines
 * (the default group of `run --pipeline all` is the schema's, whatever the file holds). A pipeline with
 * none was added since: the group's offsets are past the events it never saw, so it would count only
 * the later ones (before 2026-12-06 this was an internal error with a stack trace, exit 1).
 */
function offsetsDisagree(source: string, pipelines: readonly PipelineDefinition[], checkpoints: readonly (Partial<PartitionCheckpoint> | undefined)[]): string {
  const added = pipelines.filter((_, i) => !checkpoints[i]).map((def) => def.name);
  const at = pipelines.flatMap((def, i) => (checkpoints[i] ? [`${def.name} at offset ${checkpoints[i].next}`] : []));
  const names = (list: string[]) => list.map((n) => JSON.stringify(n)).join(', ');
  if (added.length > 0 && new Set(checkpoints.flatMap((cp) => (cp ? [cp.next] : []))).size === 1) {
    const [it, has] = added.length === 1 ? ['it', 'has'] : ['they', 'have'];
    return `${names(added)} ${has} no checkpoint of ${source} in this group, whose other pipelines are checkpointed there (${at.join(', ')}): ` +
      `${added.length === 1 ? 'a pipeline' : 'pipelines'} added to the definitions since the group ran. The group's offsets are past the events ${it} never saw, ` +
      `so ${it} would count only later ones. Run each added pipeline under a group of its own, which reads the topic from its start ` +
      `(\`concord run --pipeline ${shellWord(added[0]!)}\`: group <prefix>concord-<pipeline> by default), or every pipeline under a new --group`;
  }
  return `the checkpoints of ${source} in this group are at different offsets (${[...at, ...added.map((n) => `${n} none`)].join(', ')}): ` +
    'the group ran other sets of these pipelines (the same --group given to runs of different --pipeline selections or definitions); run each set under a --group of its own';
}
