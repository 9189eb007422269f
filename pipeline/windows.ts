import { DefinitionError } from './errors.ts';
import type { Millis } from './time.ts';

/** Event-time windows as plain data. Every window is [start, end), aligned to the epoch. */
export type WindowSpec =
  | { readonly kind: 'tumbling'; readonly size: Millis }
  | { readonly kind: 'hopping'; readonly size: Millis; readonly slide: Millis };

export const tumbling = (size: Millis): WindowSpec => ({ kind: 'tumbling', size });
export const hopping = (size: Millis, slide: Millis): WindowSpec => ({ kind: 'hopping', size, slide });

/**
 * The most windows one event may fall in (size / slide of a hopping window). Each is state and an emitted row per
 * key: "1h" every "1ms" would put every event in 3.6M windows and stall the stream; 1d every 10s (8,640) still fits.
 */
export const MAX_WINDOWS_PER_EVENT = 10_000;

/** How many windows of `spec` hold one event (at most). */
export const windowsPerEvent = (spec: WindowSpec): number => (spec.kind === 'tumbling' ? 1 : Math.ceil(spec.size / spec.slide));

export function checkWindow(spec: WindowSpec): void {
  if (!Number.isInteger(spec.size) || spec.size <= 0) throw new DefinitionError(`window size must be a positive integer of ms, got ${spec.size}`);
  if (spec.kind === 'hopping' && (!Number.isInteger(spec.slide) || spec.slide <= 0 || spec.slide > spec.size)) {
    throw new DefinitionError(`hopping slide must be a positive integer of ms no larger than the size, got ${spec.slide}`);
  }
  if (spec.kind === 'hopping' && windowsPerEvent(spec) > MAX_WINDOWS_PER_EVENT) {
    throw new DefinitionError(`a hopping window of ${spec.size} ms every ${spec.slide} ms puts each event in ${windowsPerEvent(spec)} windows; at most ${MAX_WINDOWS_PER_EVENT} are allowed`);
  }
}

/** Floor that is correct for negative numbers too. */
function alignDown(ts: Millis, step: Millis): Millis {
  return ts - (((ts % step) + step) % step);
}

/** Start times of every window containing `ts`, in ascending order. */
export function assignWindows(spec: WindowSpec, ts: Millis): Millis[] {
  if (spec.kind === 'tumbling') return [alignDown(ts, spec.size)];
  const starts: Millis[] = [];
  for (let s = alignDown(ts, spec.slide); s > ts - spec.size; s -= spec.slide) starts.push(s);
  return starts.reverse();
}

/** How far apart the windows of `spec` start: its size (tumbling) or slide (hopping). */
export const windowStep = (spec: WindowSpec): Millis => (spec.kind === 'tumbling' ? spec.size : spec.slide);

/** The latest window start of `spec` at or before `ts` (`ts` itself when a window starts there). */
export function windowStartAtOrBefore(spec: WindowSpec, ts: Millis): Millis {
  return alignDown(ts, windowStep(spec));
}

export function windowEnd(spec: WindowSpec, start: Millis): Millis {
  return start + spec.size;
}

/**
 * The end of the last window holding the instant before `before` (a day's end): where the windows that
 * start before it end (hopping 6 h windows starting in a day reach into the next day's hour 05).
 */
export function lastWindowEndBefore(spec: WindowSpec, before: Millis): Millis {
  return windowEnd(spec, assignWindows(spec, before - 1).at(-1)!);
}
