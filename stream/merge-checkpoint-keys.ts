import { createHash } from 'node:crypto';
import { MAX_KEY_CHARS } from './kafka/client.ts';

/**
 * Keys of the merge stage's incremental checkpoints in the compacted checkpoints topic. A partials
 * partition's head record is `<head>` (group|topic|partition); each window or held event of a pipeline
 * is `<head>|<pipeline>|<hash of its id>`, rewritten when it changes and deleted with a tombstone when
 * it is dropped, in the transaction that commits the partition's offset: the latest head plus the
 * records under its prefix are the state at that offset. Ids are hashed (a window's id holds its key
 * values, of any length): a key longer than the client sends as is would be sent as its hash, and the
 * restore could not find it by prefix.
 */

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
