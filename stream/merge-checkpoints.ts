import { createHash } from 'node:crypto';
import { MAX_KEY_CHARS, type OutRecord } from './kafka/client.ts';
import type { PartialMergeSnapshot } from './partial-merge.ts';
import type { RuleMergeSnapshot } from './rule-merge.ts';

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

interface MergeCheckpoint {
  next: number;
  stages: Record<string, StageSnapshot>;
}

/** A pipeline's merge stage as its checkpoints see it. */
export interface CheckpointedStage {
  snapshot(): StageSnapshot;
  /** The head and the windows or held events changed since the last call (by id; null: dropped). */
  checkpoint(): { head: StageSnapshot; parts: [string, string | null][] };
}

/**
 * The records that checkpoint a partials partition at `next`: per stage its head, and its changed
 * windows or held events as records of their own; with the bytes written.
 */
export function mergeCheckpointRecords(topic: string, head: string, next: number, stages: ReadonlyMap<string, CheckpointedStage>): { records: OutRecord[]; bytes: number } {
  const records: OutRecord[] = [];
  let bytes = 0;
  const heads: Record<string, StageSnapshot> = {};
  for (const [name, stage] of stages) {
    // Taken either way: the stage forgets what it reported.
    const delta = stage.checkpoint();
    if (!partsFit(head, name)) {
      heads[name] = stage.snapshot();
      continue;
    }
    heads[name] = delta.head;
    for (const [id, json] of delta.parts) {
      records.push({ topic, key: partKey(head, name, id), value: json });
      bytes += json === null ? 0 : Buffer.byteLength(json);
    }
  }
  const value = JSON.stringify({ next, stages: heads } satisfies MergeCheckpoint);
  records.push({ topic, key: head, value });
  return { records, bytes: bytes + Buffer.byteLength(value) };
}

/**
 * A partials partition's checkpoint from the topic read to its end: its next offset and, per pipeline,
 * the stage's head with its parts (JSON), for the stage's `restore`. Nothing stored: offset 0, no stages.
 */
export function readMergeCheckpoint(stored: ReadonlyMap<string, string>, head: string): { next: number; stages: [pipeline: string, head: StageSnapshot, parts: string[]][] } {
  const text = stored.get(head);
  if (!text) return { next: 0, stages: [] };
  const cp = JSON.parse(text) as MergeCheckpoint;
  return { next: cp.next, stages: Object.entries(cp.stages).map(([pipeline, snap]) => [pipeline, snap, storedParts(stored, head, pipeline)]) };
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
  const start = prefix(head, pipeline);
  const out: string[] = [];
  for (const [key, value] of stored) {
    // Exactly one hash after the prefix: pipeline "a" must not take the parts of a pipeline "a|b".
    if (key.startsWith(start) && key.length === start.length + HASH_CHARS && !key.includes('|', start.length)) out.push(value);
  }
  return out;
}
