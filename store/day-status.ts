import type { Registry } from '../pipeline/registry.ts';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { lastWindowEndBefore, type WindowSpec } from '../pipeline/windows.ts';
import type { InputEnd } from './input-ends.ts';
import { dayStart } from './rows.ts';

const DAY = 86_400_000;

/**
 * A day's status: the one vocabulary `concord report`, the API (`/api/days`) and the metrics
 * (`concord_store_days`) speak, so they never disagree about the same day:
 * - `provisional`: the stream's own numbers (version 0) are live;
 * - `reconciled`: a corrected version (1, 2, ...) is live; also a day the stream never wrote (a pipeline
 *   added to the definitions later and backfilled into an old day with `backfill --from/--to`): its live
 *   version is the recomputed one, and it has no version 0 (`versionsOfDay`);
 * - `sealed`: the pipeline's watermark passed the end of the day's last window plus the seal delay
 *   (late data is kept aside as late-delta and dirty cells); it wins over `reconciled`.
 */
export const DAY_STATUSES = ['provisional', 'reconciled', 'sealed'] as const;
export type DayStatusName = (typeof DAY_STATUSES)[number];

/**
 * Where the results of a day end: the end of the last window that starts in it, or the day's end when
 * that is later (rules, and windows that divide the day). A day's rows are the windows starting in it,
 * so a 168h window starting on a day fires a week later; sealing it at the day's end hid that window's
 * first value (its day was sealed three days before the window closed).
 */
export function dayReach(day: string, window?: WindowSpec): number {
  const end = dayStart(day) + DAY;
  return window ? Math.max(end, lastWindowEndBefore(window, end)) : end;
}

/**
 * When the stream's results of a day are final: its watermark passed the end of the day's last window
 * (`dayReach`) plus the allowed lateness, and the events of that instant came in (W trails them by B).
 * A reconciliation before then compares windows still open against a partial archive.
 */
export function dayFinalAt(def: PipelineDefinition, day: string): number {
  return dayReach(day, def.kind === 'windowed' ? def.window : undefined) + def.watermark.maxOutOfOrderness + def.allowedLateness;
}

/**
 * Whether the stream had not reached the day's end when its watermark `w` was stored: its newest event
 * (W + B) is more than L before the day's last window ends. A stream behind the wall clock (a backlog,
 * a replay of old data from Kafka) is judged by this, not by the clock: a day reconciled so is published
 * from what is archived now, and the stream's rows of the day that come later are kept aside as dirty
 * cells. A bounded run over a whole day stops within B of its end and is not behind.
 */
export function streamBehindDay(def: PipelineDefinition, day: string, w: number | null): boolean {
  return w !== null && Number.isFinite(w) && w + def.watermark.maxOutOfOrderness + def.allowedLateness < dayReach(day, def.kind === 'windowed' ? def.window : undefined);
}

/**
 * A stream behind a day: its stored watermark, and when the day's results are final (`dayFinalAt`);
 * `inputEnded`: it stopped there because its bounded input ended (store/input-ends.ts), so nothing more
 * of the day is coming from it and waiting for it is pointless.
 */
export interface StreamBehind { watermark: number; finalAt: number; inputEnded?: InputEnd }

/**
 * The store's stream watermark of `def` when it is behind `day` (`streamBehindDay`): the one check
 * `reconcile --date` notes and the nightly reconcile job waits on (not when its input ended). Undefined
 * when the stream reached the day's end, or when the store holds no watermark of the pipeline (no stream
 * ever wrote it: batch-only use).
 */
export async function streamBehind(store: { watermark(pipeline: string): Promise<number | null>; inputEnd?(pipeline: string): Promise<InputEnd | undefined> }, def: PipelineDefinition, day: string): Promise<StreamBehind | undefined> {
  const w = await store.watermark(def.name);
  if (w === null || !streamBehindDay(def, day, w)) return undefined;
  const ended = await store.inputEnd?.(def.name);
  return { watermark: w, finalAt: dayFinalAt(def, day), ...(ended ? { inputEnded: ended } : {}) };
}

/**
 * What reconciling a day the stream is behind of means, as `reconcile --date` notes it and a reconcile
 * job's result records it.
 */
export function describeStreamBehind(b: StreamBehind): string {
  const behind = `the stream's watermark is at ${new Date(b.watermark).toISOString()}, before the day's end (it is behind the clock, or its input stopped there): ` +
    'this version holds what is archived now; rows of the day the stream writes later are kept aside as dirty cells, not shown, ' +
    `until the day is reconciled again (or backfilled) once the stream read events up to ${new Date(b.finalAt).toISOString()}`;
  const ended = b.inputEnded;
  return ended === undefined ? behind
    : `${behind}; its input ended there: ${ended.run} read ${ended.at} at ${new Date(ended.endedAt).toISOString()} (a bounded run: no more of the day is coming from it)`;
}

/** A day is sealed once the pipeline's watermark passes the end of the day's last window plus the seal delay. */
export function isSealed(day: string, w: number | undefined | null, sealDelayMs: number, window?: WindowSpec): boolean {
  return w !== undefined && w !== null && w >= dayReach(day, window) + sealDelayMs;
}

/** The window of a windowed pipeline of `registry` (undefined: a rule, or a pipeline the definitions lack). */
export function windowOf(registry: Registry, pipeline: string): WindowSpec | undefined {
  const def = registry.pipelines.find((p) => p.name === pipeline);
  return def?.kind === 'windowed' ? def.window : undefined;
}

/**
 * Whether the pipeline's stream reached `day`: its stored watermark `w` is at or past the day's start.
 * A day it has not reached is `provisional` as the vocabulary has it (no reconciled version, not sealed),
 * yet has no stream numbers to be provisional about: no rows there are no data yet, not a day without
 * traffic (rows there are early ones, event times ahead of W). False when no stream ever wrote the
 * pipeline's watermark (batch-only use: the stream reached no day). Said beside the status
 * (`stream_reached`), not as another status: the three statuses are the API's and metrics' contract.
 */
export function streamReached(day: string, w: number | null | undefined): boolean {
  return w !== undefined && w !== null && w >= dayStart(day);
}

/**
 * Whether the pipeline's stream has passed `day`: its watermark `w` is at or past the end of the day's
 * last window (`dayReach`), so every window of the day has fired. A report of a past day says so rather
 * than the newest watermark, which is of another day (today's on a report of last week).
 */
export function streamPassed(day: string, w: number | null | undefined, window?: WindowSpec): boolean {
  return w !== undefined && w !== null && w >= dayReach(day, window);
}

/**
 * Whether the day's latest reconciliation failed: unexplained differences stopped it and it published
 * nothing (`failed_unexplained`, what `/api/days` answers as the day's `reconciliation.status`). Not a
 * status: such a day keeps its own (`provisional` when no earlier reconciliation published a version, the
 * stream's numbers being live; `reconciled` or `sealed` otherwise). The metric
 * `concord_store_days_reconcile_failed` counts these days beside `concord_store_days`.
 */
export function lastReconcileFailed(st: { reconciliations: readonly { status: string }[] }): boolean {
  return st.reconciliations.at(-1)?.status === 'failed_unexplained';
}

export function dayStatusOf(o: { sealed: boolean; liveGeneration: number }): DayStatusName {
  return o.sealed ? 'sealed' : o.liveGeneration > 0 ? 'reconciled' : 'provisional';
}

/**
 * The versions a day has, oldest first: its stored ones (1, 2, ...) after version 0, the stream's own
 * numbers, when the store holds a stream row of the day or version 0 is still live (nothing replaced
 * it: the stream's numbers, none yet). A day the stream never wrote and a recomputed version replaced
 * (a pipeline added later and backfilled into an old day) has no version 0: listing it offered
 * numbers that do not exist (an empty version a dashboard would read as zeros).
 */
export function versionsOfDay(st: { liveGeneration: number; generations: readonly number[]; streamRows: boolean }): number[] {
  return [...(st.streamRows || st.liveGeneration === 0 ? [0] : []), ...st.generations];
}
