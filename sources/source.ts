/**
 * A batch of raw input lines from one source, with the offset of the first one.
 * Sources deliver batches (never one promise per event); offsets are line numbers for files
 * and Kafka offsets for topics.
 */
export interface LineBatch {
  readonly source: string;
  readonly firstOffset: number;
  readonly lines: readonly string[];
}

export type LineSource = AsyncIterable<LineBatch>;
