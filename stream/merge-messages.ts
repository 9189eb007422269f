import { ConcordError } from '../pipeline/errors.ts';
import type { KeyValues } from '../schemas/results.ts';
import type { Partial } from './partial-merge.ts';

/**
 * The records on `concord.partials.<schema>`, from stream workers to the merge stage. Keyed by pipeline,
 * so one pipeline's partials and progress share a partition and keep the order they were written in.
 */
export interface PartialMessage {
  type: 'partial';
  pipeline: string;
  partition: number;
  window_start: number;
  window_end: number;
  key: KeyValues;
  revision: number;
  accumulators: unknown[];
}

/** Input `partition`'s operator of `pipeline` has been advanced to `watermark` (ms; or an infinity). */
export interface ProgressMessage {
  type: 'progress';
  pipeline: string;
  partition: number;
  watermark: number | '+infinity' | '-infinity';
}

export type MergeMessage = PartialMessage | ProgressMessage;

export function progressMessage(pipeline: string, partition: number, w: number): ProgressMessage {
  return { type: 'progress', pipeline, partition, watermark: Number.isFinite(w) ? w : w > 0 ? '+infinity' : '-infinity' };
}

export function progressWatermark(m: ProgressMessage): number {
  return m.watermark === '+infinity' ? Number.POSITIVE_INFINITY : m.watermark === '-infinity' ? Number.NEGATIVE_INFINITY : m.watermark;
}

export function toPartial(m: PartialMessage): Partial {
  return { partition: m.partition, windowStart: m.window_start, windowEnd: m.window_end, key: m.key, revision: m.revision, accumulators: m.accumulators };
}

export function decodeMergeMessage(text: string, where: string): MergeMessage {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (error) {
    throw new ConcordError(`${where}: a partials record is not JSON`, { cause: error });
  }
  const t = (m as { type?: unknown } | null)?.type;
  if (t !== 'partial' && t !== 'progress') throw new ConcordError(`${where}: a partials record has type ${String(t)}, expected partial or progress`);
  return m as MergeMessage;
}
