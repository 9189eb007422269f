/** What a consumer-group member (consumer.ts) is given, and the session timeout every member runs with. */
import type { GroupGeneration, InBatch, KafkaClientError } from './common.ts';
import { envNumber } from '../../pipeline/env-number.ts';

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  /** Start from the earliest offset when the group has no committed offset (default true). */
  fromBeginning?: boolean;
  /**
   * Called with each fetched batch, in order per partition. Return true when the batch was
   * processed; with `commit: 'after-batch'` (the default) its offsets are then committed.
   * Returning false leaves the offsets alone.
   */
  onBatch: (batch: InBatch) => Promise<boolean | void> | boolean | void;
  /**
   * A partition's records of one fetched round are delivered in batches of at most this many, with a turn
   * of the event loop between them (default: one batch per partition and round). For a member whose batch
   * costs much per record: the heartbeats run between the pieces, not only after the whole batch.
   */
  maxBatchRecords?: number;
  /** 'after-batch': commit after each processed batch; 'none': the caller commits (in a transaction). */
  commit?: 'after-batch' | 'none';
  /**
   * Every assignment, with the generation it belongs to (commits made for it must carry it), and whether
   * this member held the generation just before it: only then were the partitions it keeps nobody
   * else's meanwhile. A member dropped from the group (a stall past the session timeout, a rejoin under a
   * new member id) gets a later generation: another member may have processed its partitions in between,
   * so state kept in memory from before is stale (seen as a range of late events judged by an old W).
   */
  onAssignment?: (partitions: { topic: string; partition: number }[], generation: GroupGeneration, continued: boolean) => void;
  /**
   * After delivered batches and after fetches holding only transaction markers (which `onBatch` never
   * sees): the next offset to read, to tell "caught up" (markers take offsets too).
   */
  onPosition?: (position: { topic: string; partition: number; next: number }) => void;
  /**
   * Also deliver batches with no records whose fetch moved past transaction markers (or aborted records):
   * with `InBatch.next`, a member tells "read to the end" from what it processed, in order with its
   * batches and under their membership (`onPosition` reports as fetched, ahead of what was processed).
   */
  markerBatches?: boolean;
  /**
   * Records longer than this many bytes are delivered as a problem (InRecord.problem), not their value.
   * Default: the input line limit (CONCORD_MAX_LINE_BYTES, 1 MiB), which guards against hostile input
   * events; Concord's own records (checkpoints, results, late events) are read whole: `Infinity`.
   */
  maxRecordBytes?: number;
  /**
   * Static membership (KIP-345): a stable id per member, so a restarted member gets its partitions
   * back at once instead of after a rebalance. A stalled one is still removed after the session timeout.
   */
  instanceId?: string;
  /**
   * The consumer gave up (it could not rejoin the group, or its fetches failed for good): it delivers
   * nothing more. Without this, the failure is only kept (`error()`).
   */
  onError?: (error: KafkaClientError) => void;
}

/**
 * How long the broker waits for a silent member before handing its partitions away (the broker
 * minimum is 6 s). Env CONCORD_KAFKA_SESSION_TIMEOUT_MS; docs/operations.md has the trade-off.
 */
export function sessionTimeoutMs(): number {
  return envNumber('CONCORD_KAFKA_SESSION_TIMEOUT_MS', 10_000, { integer: true, min: 1, unit: 'milliseconds' });
}
