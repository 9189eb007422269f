import type { AnyEvent } from '../schemas/schema.ts';

/** Fixed start: 2026-11-23T00:00Z. */
export const BENCH_DAY = Date.UTC(2026, 10, 23);

export interface ClickShape {
  /** Distinct urls (the page-view key). */
  urls: number;
  /** Distinct visitors. */
  visitors: number;
  /** Events per simulated second (sets how many windows a run spans). */
  perSecond: number;
  /** Fraction of events delayed by up to 20 s (within B = 30 s: out of order, never late). */
  disorder: number;
}

export const DEFAULT_SHAPE: ClickShape = { urls: 5_000, visitors: 200_000, perSecond: 2_000, disorder: 0.02 };

/** A cheap seeded generator (xorshift32): benchmark data, not a statistics tool. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

/** `n` decoded click events in arrival order (the stream's input once parsed and validated). */
export function clickEvents(n: number, shape: ClickShape = DEFAULT_SHAPE, seed = 7): AnyEvent[] {
  return [...clickEventStream(n, shape, seed)];
}

/**
 * The events of `clickEvents`, made one at a time: a run that holds only what a source would (one
 * batch), not the whole input in memory (1M events are ~300 MB of the heap a full collection marks).
 */
export function* clickEventStream(n: number, shape: ClickShape = DEFAULT_SHAPE, seed = 7): Generator<AnyEvent> {
  const r = rng(seed);
  const step = 1000 / shape.perSecond;
  for (let i = 0; i < n; i++) {
    const delay = r() < shape.disorder ? Math.floor(r() * 20_000) : 0;
    // Skewed urls: a few hot pages, a long tail.
    const u = Math.floor(shape.urls * r() * r());
    yield { event_id: `c${i}`, ts: BENCH_DAY + Math.floor(i * step) - delay, url: `/p/${u}`, visitor_id: `v${Math.floor(r() * shape.visitors)}` };
  }
}

/** The same events as JSON lines (what arrives from a file or a Kafka topic). */
export function clickLines(events: readonly AnyEvent[]): string[] {
  return events.map((e) => JSON.stringify(e));
}
