import { createHash } from 'node:crypto';
import { ConcordError } from '../pipeline/errors.ts';
import { MAX_KEY_CHARS, type OutRecord } from './kafka/client.ts';
import type { PartialMergeSnapshot } from './partial-merge.ts';
import type { RuleMergeSnapshot } from './rule-merge-checkpoint.ts';
import type { UpgradeFrom } from './upgrade-from.ts';

/**
 * The merge stage's checkpoints in the compacted checkpoints topic, incremental. A partials partition's
 * head record is `<head>` (group|topic|partition): its next offset and each pipeline stage without its
 * windows or held events (MergeCheckpoint). Each window or held event of a pipeline is
 * `<head>|<pipeline>|<hash of its id>`, rewritten when it changes and deleted with a tombstone when it
 * is dropped, in the transaction that commits the partition's offset: the latest head plus the records
 * under its prefix are the state at that offset. Ids are hashed (a window's id holds its key values, of
 * any length): a key longer than the client sends as is would be sent as its hash, and the restore could
 * not find it by prefix; a pipeline whose prefix alone is too long is written whole in the head.
 */

type StageSnapshot = PartialMergeSnapshot | RuleMergeSnapshot;

/**
 * 2: a rule stage's operator may keep its keys in parts (rule-merge-checkpoint.ts); absent in earlier heads (1), which
 * restore as they are. A newer format is refused: this version would misread it.
 */
const MERGE_CHECKPOINT_FORMAT = 2;

interface MergeCheckpoint {
  format?: number;
  next: number;
  stages: Record<string, StageSnapshot>;
}

/**
 * An incremental checkpoint of a stage or an operator: its head (the state without its parts) and each
 * part (a window cell, a held event, a rule's key) changed since the last one, by id, as JSON, or null
 * when it is gone. The last head with the latest part per id is the state.
 */
export interface PartsCheckpoint<Head> {
  readonly head: Head;
  readonly parts: [id: string, json: string | null][];
}

/** What checkpoints in parts: a merge stage, or a worker's operator (whose `checkpoint` is optional). */
export interface Checkpointed<Head> {
  snapshot(): Head;
  /** The head and the parts changed since the last call; each call forgets what it reported. */
  checkpoint?(): PartsCheckpoint<Head>;
}

/** A pipeline's merge stage as its checkpoints see it. */
export interface CheckpointedStage extends Checkpointed<StageSnapshot> {
  checkpoint(): PartsCheckpoint<StageSnapshot>;
}

/**
 * One pipeline's share of a checkpoint under `head` (the worker's and the merge stage's alike): pushes
 * its changed parts onto `records` and returns what its head record holds for it, the lean head, or its
 * whole snapshot when it has no parts or their keys would be too long for the client to send as they are.
 */
export function pipelineCheckpoint<Head>(topic: string, head: string, pipeline: string, state: Checkpointed<Head>, records: OutRecord[]): Head {
  // Taken either way: the stage forgets what it reported.
  const delta = state.checkpoint?.();
  if (delta === undefined || !partsFit(head, pipeline)) return state.snapshot();
  for (const [id, json] of delta.parts) records.push({ topic, key: partKey(head, pipeline, id), value: json });
  return delta.head;
}

/**
 * The records that checkpoint a partials partition at `next`: per stage its head, and its changed
 * windows or held events as records of their own; with the bytes written. `upgradeFrom`: the head as
 * that release writes it, with no format (stream/upgrade-from.ts; the stages write their own part).
 */
export function mergeCheckpointRecords(
  topic: string, head: string, next: number, stages: ReadonlyMap<string, CheckpointedStage>, upgradeFrom?: UpgradeFrom,
): { records: OutRecord[]; bytes: number } {
  const records: OutRecord[] = [];
  const heads: Record<string, StageSnapshot> = {};
  for (const [name, stage] of stages) heads[name] = pipelineCheckpoint(topic, head, name, stage, records);
  const format = upgradeFrom === undefined ? { format: MERGE_CHECKPOINT_FORMAT } : {};
  records.push({ topic, key: head, value: JSON.stringify({ ...format, next, stages: heads } satisfies MergeCheckpoint) });
  return { records, bytes: checkpointBytes(records) };
}

/**
 * A partials partition's checkpoint from the topic read to its end: its next offset and, per pipeline,
 * the stage's head with its parts (JSON), for the stage's `restore`. Nothing stored: offset 0, no stages.
 */
export function readMergeCheckpoint(stored: ReadonlyMap<string, string>, head: string): { next: number; stages: [pipeline: string, head: StageSnapshot, parts: string[]][] } {
  const text = stored.get(head);
  if (!text) return { next: 0, stages: [] };
  const cp = JSON.parse(text) as MergeCheckpoint;
  if ((cp.format ?? 1) > MERGE_CHECKPOINT_FORMAT) {
    throw new ConcordError(`the merge checkpoint ${head} was written by a newer Concord (format ${cp.format}); use a new --group`, { domain: 'user' });
  }
  return { next: cp.next, stages: Object.entries(cp.stages).map(([pipeline, snap]) => [pipeline, snap, storedParts(stored, head, pipeline)]) };
}

/** The bytes of checkpoint records as written: keys and values (many small parts, each with its key). */
export function checkpointBytes(records: readonly OutRecord[]): number {
  return records.reduce((n, r) => n + Buffer.byteLength(r.key ?? '') + Buffer.byteLength(r.value ?? ''), 0);
}

function prefix(head: string, pipeline: string): string {
  return `${head}|${pipeline}|`;
}

/** base64url of a SHA-256: 43 characters. */
const HASH_CHARS = 43;

/** Whether a pipeline's parts get keys the client sends as they are (else its stage is checkpointed whole in the head). */
export function partsFit(head: string, pipeline: string): boolean {
  return prefix(head, pipeline).length + HASH_CHARS <= MAX_KEY_CHARS;
}

export function partKey(head: string, pipeline: string, id: string): string {
  return `${prefix(head, pipeline)}${createHash('sha256').update(id).digest('base64url')}`;
}

/** The part records of a pipeline's stage in a checkpoints topic read to its end (tombstoned ones are gone). */
export function storedParts(stored: ReadonlyMap<string, string>, head: string, pipeline: string): string[] {
  return storedPartKeys(stored, head, pipeline).map((key) => stored.get(key)!);
}

/** The keys of those records (stream/upgrade-from.ts deletes them). */
export function storedPartKeys(stored: ReadonlyMap<string, string>, head: string, pipeline: string): string[] {
  const start = prefix(head, pipeline);
  const out: string[] = [];
  for (const key of stored.keys()) {
    // Exactly one hash after the prefix: pipeline "a" must not take the parts of a pipeline "a|b".
    if (key.startsWith(start) && key.length === start.length + HASH_CHARS && !key.includes('|', start.length)) out.push(key);
  }
  return out;
}
