import type { PipelineDefinition } from '../pipeline/definition.ts';
import { streamReached } from '../store/day-status.ts';
import type { NoStreamRows } from './day-errors.ts';

/** What the store knows of where a pipeline's stream has been (both optional: a store may not say). */
export interface StreamCoverageStore {
  /** The pipeline's stream watermark; null: no stream ever wrote it. */
  watermark?(pipeline: string): Promise<number | null>;
  /** The first day the stream wrote rows of the pipeline (pruned days count); null: none. */
  firstStreamDay?(pipeline: string): Promise<string | null>;
}

/**
 * Why a day without stream rows has none, when the store alone tells, read before the replay (a whole
 * day's replay only to refuse it after). Undefined: the replay decides (a quiet day, a rule without an
 * alert, a filter that kept nothing, or a day the stream missed).
 * - the stream's watermark is before the day: it has not reached it, no data yet;
 * - a windowed pipeline whose stream rows all start after the day: the stream ran it from a later day
 *   on (added to the definitions then). Not for rules: a rule's first alert may come days after its
 *   stream started, and its quiet days before are reconciled as empty.
 */
export async function whyNoStreamRows(store: StreamCoverageStore, def: PipelineDefinition, date: string): Promise<NoStreamRows | undefined> {
  const w = await store.watermark?.(def.name);
  // No watermark: no stream ever wrote the pipeline (batch-only use, or rows stored by other means).
  if (w === undefined || w === null) return undefined;
  if (!streamReached(date, w)) return { kind: 'not_reached', watermark: w };
  if (def.kind !== 'windowed') return undefined;
  const first = await store.firstStreamDay?.(def.name);
  return first !== undefined && first !== null && first > date ? { kind: 'started_later', firstDay: first } : undefined;
}
