import type { PipelineDefinition } from '../pipeline/definition.ts';
import { streamReached } from '../store/day-status.ts';
import { dayStart } from '../store/rows.ts';
import type { NoStreamRows } from './day-errors.ts';

const DAY = 86_400_000;

/** What the store knows of where a pipeline's stream has been (each optional: a store may not say). */
export interface StreamCoverageStore {
  /** The pipeline's stream watermark; null: no stream ever wrote it. */
  watermark?(pipeline: string): Promise<number | null>;
  /** The first day the stream wrote rows of the pipeline (pruned days count); null: none. */
  firstStreamDay?(pipeline: string): Promise<string | null>;
  /** The first W the store held of the pipeline's stream (store/stream-starts.ts); null: none recorded. */
  streamStart?(pipeline: string): Promise<number | null>;
}

/**
 * Whether the pipeline's stream read `date`: the newest event it had read when its first W was stored
 * (that W plus B) is before the day's end, so it read the day's events (it started on the day or
 * before it), whatever it kept of them. False for a stream that began after the day, and when no start
 * is recorded (a store whose stream wrote its first W before 2026-12-08).
 */
export function streamStartedBy(def: PipelineDefinition, date: string, start: number | null | undefined): boolean {
  return start !== null && start !== undefined && start + def.watermark.maxOutOfOrderness < dayStart(date) + DAY;
}

/**
 * Why a day without stream rows has none, when the store alone tells, read before the replay (a whole
 * day's replay only to refuse it after). Undefined: the replay decides (a quiet day, a rule without an
 * alert, a filter that kept nothing, or a day the stream missed).
 * - the stream's watermark is before the day: it has not reached it, no data yet;
 * - a windowed pipeline whose stream began after the day: it ran the pipeline from a later day on
 *   (added to the definitions then). Began after: its recorded start (`streamStartedBy`) is after the
 *   day, and so are its first rows (a start recorded after an upgrade is later than the stream's real
 *   one; the rows say otherwise). The first rows alone refused a day the stream read and kept nothing
 *   of (its filter dropped every event of the day) as "added after the day". Not for rules: a rule's
 *   first alert may come days after its stream started, and its quiet days before are reconciled as empty.
 */
export async function whyNoStreamRows(store: StreamCoverageStore, def: PipelineDefinition, date: string): Promise<NoStreamRows | undefined> {
  const w = await store.watermark?.(def.name);
  // No watermark: no stream ever wrote the pipeline (batch-only use, or rows stored by other means).
  if (w === undefined || w === null) return undefined;
  if (!streamReached(date, w)) return { kind: 'not_reached', watermark: w };
  if (def.kind !== 'windowed') return undefined;
  if (streamStartedBy(def, date, await store.streamStart?.(def.name))) return undefined;
  const first = await store.firstStreamDay?.(def.name);
  return first !== undefined && first !== null && first > date ? { kind: 'started_later', firstDay: first } : undefined;
}
