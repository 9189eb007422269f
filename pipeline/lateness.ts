import type { Millis } from './time.ts';

/**
 * The lateness rules, as pure predicates over the watermark W in force *before* an event
 * (see docs/semantics.md). Windows are [start, end); `end - 1` is the window's max timestamp.
 */

/** A window fires (first result, revision 0) as soon as W >= end - 1. */
export function windowHasFired(end: Millis, w: number): boolean {
  return w >= end - 1;
}

/** An event is late for a window when end - 1 + L <= W; the same moment the window's state is dropped. */
export function isLateForWindow(end: Millis, allowedLateness: Millis, w: number): boolean {
  return end - 1 + allowedLateness <= w;
}

/** A rule event is decided once W >= ts; one arriving with ts <= W is late. */
export function isDecided(ts: Millis, w: number): boolean {
  return ts <= w;
}

/** A late rule event with ts <= W - L is dropped to the late output; above that it is evaluated on arrival. */
export function isBeyondLateness(ts: Millis, allowedLateness: Millis, w: number): boolean {
  return ts <= w - allowedLateness;
}
