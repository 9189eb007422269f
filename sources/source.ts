import type { LineProblem } from './line-limits.ts';

/**
 * A batch of raw input lines from one source, with the offset of the first one.
 * Sources deliver batches (never one promise per event); offsets are line numbers for files
 * and Kafka offsets for topics.
 */
export interface LineBatch {
  readonly source: string;
  readonly firstOffset: number;
  readonly lines: readonly string[];
  /** Offsets of the lines when they are not contiguous from `firstOffset` (Kafka: markers, compaction). */
  readonly offsets?: readonly number[];
  /** When each line entered the system (Kafka record timestamps), if known; else the archive's write time. */
  readonly ingestTimes?: readonly number[];
  /** Lines that never became text (not UTF-8, over the line limit), by index in `lines` (which holds ''). */
  readonly problems?: ReadonlyMap<number, LineProblem>;
}

/** The offset of line `i` of a batch. */
export function offsetOf(batch: LineBatch, i: number): number {
  return batch.offsets ? batch.offsets[i]! : batch.firstOffset + i;
}

export type LineSource = AsyncIterable<LineBatch>;
