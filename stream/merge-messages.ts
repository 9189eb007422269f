import { ConcordError } from '../pipeline/errors.ts';
import type { InRecord } from './kafka/client.ts';
import type { KeyValues } from '../schemas/results.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import type { Partial } from './partial-merge.ts';
import type { ForwardedEvent } from './rule-merge.ts';

/**
 * The records on a stream group's partials topic (topicNames().partials), from its workers to its merge
 * stage. Keyed by pipeline, so one pipeline's records share a partition and keep the order they were
 * written in (a worker writes a step's partials or events, then its progress, in one transaction).
 * Each names the definition version that wrote it: the merge never combines records of two versions.
 */
export interface PartialMessage {
  type: 'partial';
  pipeline: string;
  definition: string;
  partition: number;
  window_start: number;
  window_end: number;
  key: KeyValues;
  revision: number;
  accumulators: unknown[];
}

/** A watermark on the wire: ms, or an infinity (JSON has none). */
export type WireWatermark = number | '+infinity' | '-infinity';

/**
 * Input `partition`'s operators of `pipeline` have been advanced to `watermark` (the worker's W), and
 * the partition itself stands at `source_watermark` (its own W: max ts - B - 1, +infinity once its
 * worker drained), `idle` or not. The windowed merge uses `watermark`; the rule merge rebuilds the W of
 * one operator over every partition from `source_watermark` and `idle`.
 */
export interface ProgressMessage {
  type: 'progress';
  pipeline: string;
  definition: string;
  partition: number;
  watermark: WireWatermark;
  source_watermark: WireWatermark;
  idle: boolean;
}

/**
 * One event input `partition` accepted for a rule pipeline whose key spans partitions (it passed the
 * pipeline's `where` and was not beyond the allowed lateness). `watermark` is the W the worker judged
 * it against: the verdict (ts <= watermark: late within L, evaluated once on arrival; else on time),
 * which the merge follows and never re-judges. `source_watermark` is the partition's own W before the
 * event: events the merge never sees (filtered, dropped as late) move it too.
 */
export interface RuleEventMessage {
  type: 'event';
  pipeline: string;
  definition: string;
  partition: number;
  offset: number;
  watermark: WireWatermark;
  source_watermark: WireWatermark;
  /** The normalised event, only the fields the pipeline reads. */
  event: AnyEvent;
}

export type MergeMessage = PartialMessage | ProgressMessage | RuleEventMessage;

export function toWire(w: number): WireWatermark {
  return Number.isFinite(w) ? w : w > 0 ? '+infinity' : '-infinity';
}

export function fromWire(w: WireWatermark): number {
  return w === '+infinity' ? Number.POSITIVE_INFINITY : w === '-infinity' ? Number.NEGATIVE_INFINITY : w;
}

export function progressMessage(pipeline: string, definition: string, partition: number, w: number, source: { watermark: number; idle: boolean }): ProgressMessage {
  return { type: 'progress', pipeline, definition, partition, watermark: toWire(w), source_watermark: toWire(source.watermark), idle: source.idle };
}

export function progressWatermark(m: ProgressMessage): number {
  return fromWire(m.watermark);
}

export function toPartial(m: PartialMessage): Partial {
  return { partition: m.partition, windowStart: m.window_start, windowEnd: m.window_end, key: m.key, revision: m.revision, accumulators: m.accumulators };
}

export function toForwardedEvent(m: RuleEventMessage): ForwardedEvent {
  return { partition: m.partition, offset: m.offset, verdictWatermark: fromWire(m.watermark), sourceWatermark: fromWire(m.source_watermark), event: m.event };
}

export function decodeMergeMessage(record: Pick<InRecord, 'value' | 'problem'>, where: string): MergeMessage {
  if (record.problem) throw new ConcordError(`${where}: a partials record is unreadable: ${record.problem.reason}`);
  let m: unknown;
  try {
    m = JSON.parse(record.value);
  } catch (error) {
    throw new ConcordError(`${where}: a partials record is not JSON`, { cause: error });
  }
  const t = (m as { type?: unknown } | null)?.type;
  if (t !== 'partial' && t !== 'progress' && t !== 'event') throw new ConcordError(`${where}: a partials record has type ${String(t)}, expected partial, event or progress`);
  return m as MergeMessage;
}
