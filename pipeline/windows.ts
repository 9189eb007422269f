import { DefinitionError } from './errors.ts';
import { formatDuration, isoMillis, type Millis } from './time.ts';

/**
 * Event-time windows as plain data. Every window is [start, end); starts are the epoch plus `offset` plus a
 * multiple of the step (size, or slide), like Flink's `TumblingEventTimeWindows.of(size, offset)`. `offset`
 * is kept normalised to (0, step) and left out when 0, so a definition without one keeps its version and
 * "-5h" and "19h" on a 1-day window (the same windows) are the same definition. A fixed offset: no DST.
 */
export type WindowSpec =
  | { readonly kind: 'tumbling'; readonly size: Millis; readonly offset?: Millis }
  | { readonly kind: 'hopping'; readonly size: Millis; readonly slide: Millis; readonly offset?: Millis };

/** `offset` (any sign, |offset| < step) as a window's `offset` field: in (0, step), absent for 0. */
function offsetField(offset: Millis, step: Millis): { offset?: Millis } {
  const normal = floorMod(offset, step);
  return normal === 0 ? {} : { offset: normal };
}

export const tumbling = (size: Millis, offset: Millis = 0): WindowSpec => ({ kind: 'tumbling', size, ...offsetField(offset, size) });
export const hopping = (size: Millis, slide: Millis, offset: Millis = 0): WindowSpec => ({ kind: 'hopping', size, slide, ...offsetField(offset, slide) });

/** How far past the epoch's alignment the windows of `spec` start, in [0, step). */
export const windowOffset = (spec: WindowSpec): Millis => spec.offset ?? 0;

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
  // Normalised, so one set of windows has one version (build specs with `tumbling` / `hopping`).
  if (spec.offset !== undefined && (!Number.isInteger(spec.offset) || spec.offset <= 0 || spec.offset >= windowStep(spec))) {
    throw new DefinitionError(`a window offset must be an integer of ms in (0, ${windowStep(spec)}) (leave it out for 0), got ${spec.offset}`);
  }
}

/** `n` mod `m` in [0, m), for negative `n` too (JavaScript's and SQL's `%` keep the sign of `n`). */
function floorMod(n: number, m: number): number {
  return ((n % m) + m) % m;
}

/** The latest instant at or before `ts` that is `offset` plus a multiple of `step` (before 1970 too). */
function alignDown(ts: Millis, step: Millis, offset: Millis): Millis {
  return ts - floorMod(ts - offset, step);
}

/** Start times of every window containing `ts`, in ascending order. */
export function assignWindows(spec: WindowSpec, ts: Millis): Millis[] {
  const latest = windowStartAtOrBefore(spec, ts);
  if (spec.kind === 'tumbling') return [latest];
  const starts: Millis[] = [];
  for (let s = latest; s > ts - spec.size; s -= spec.slide) starts.push(s);
  return starts.reverse();
}

/** How far apart the windows of `spec` start: its size (tumbling) or slide (hopping). */
export function windowStep(spec: WindowSpec): Millis {
  return spec.kind === 'tumbling' ? spec.size : spec.slide;
}

/** The latest window start of `spec` at or before `ts` (`ts` itself when a window starts there). */
export function windowStartAtOrBefore(spec: WindowSpec, ts: Millis): Millis {
  return alignDown(ts, windowStep(spec), windowOffset(spec));
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

/**
 * `windowStartAtOrBefore` as a SQL expression over the integer epoch-ms expression `ts`, for replay:
 * SQL's `%` keeps the sign of its left side like JavaScript's, so this floors the same way (an offset
 * window's first start after the epoch is before it, and times before 1970 come out right too).
 */
export function windowStartAtOrBeforeSql(spec: WindowSpec, ts: string): string {
  const step = windowStep(spec), offset = windowOffset(spec);
  const shifted = offset === 0 ? ts : `(${ts} - ${offset})`;
  return `(${ts} - ((${shifted} % ${step} + ${step}) % ${step}))`;
}

/**
 * How the windows of `spec` are aligned, for people: "aligned to the epoch", or with an offset its value,
 * the same offset on the other side of 0 (a user may have written either), and the first start.
 */
export function windowAlignmentText(spec: WindowSpec): string {
  const offset = windowOffset(spec);
  if (offset === 0) return 'aligned to the epoch';
  const other = offset - windowStep(spec);
  return `aligned to the epoch + ${formatDuration(offset)} (the same as -${formatDuration(-other)}): windows start at ` +
    `${isoMillis(offset)} and every ${formatDuration(windowStep(spec))} from it (a fixed offset in UTC; no daylight saving time)`;
}
