import type { Millis } from './time.ts';

/**
 * Bounded-out-of-orderness watermark, Flink's numbers: per source W_s := max(W_s, ts - B - 1),
 * starting at -infinity; the operator's W is the minimum over sources that are not idle.
 * A source marked idle stops holding W back until it delivers again. With every source idle,
 * W is the maximum over sources (nothing is holding it back).
 */
export interface WatermarkSnapshot {
  /** Each source's W; null: -infinity (no event yet), or +infinity when the source is in `drained`. */
  sources: [string, number | null][];
  idle: string[];
  /** Sources at +infinity (a merge stage's partition whose worker drained); absent in older snapshots. */
  drained?: string[];
  combined: number | null;
  finished: boolean;
}

/** -Infinity (no event yet) travels as null in JSON; so does +Infinity, named in the snapshot's `drained`. */
function finiteOrNull(w: number): number | null {
  return Number.isFinite(w) ? w : null;
}

/** A snapshot's source W: null is -infinity, unless the source is drained (+infinity). */
export function sourceWatermarkOf(snap: WatermarkSnapshot, source: string, w: number | null): number {
  if (w !== null) return w;
  return snap.drained?.includes(source) ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

export class WatermarkTracker {
  private readonly bound: Millis;
  private readonly perSource = new Map<string, number>();
  private readonly idle = new Set<string>();
  private combined = Number.NEGATIVE_INFINITY;
  private finished = false;

  constructor(maxOutOfOrderness: Millis) {
    this.bound = maxOutOfOrderness;
  }

  /** The W in force now. */
  get current(): number {
    return this.combined;
  }

  /** Advances the source's watermark after an event with time `ts`; returns the operator W. */
  observe(source: string, ts: Millis): number {
    const candidate = ts - this.bound - 1;
    const before = this.perSource.get(source);
    if (this.idle.delete(source) || before === undefined || candidate > before) {
      this.perSource.set(source, before === undefined || candidate > before ? candidate : before);
      this.recompute();
    }
    return this.combined;
  }

  /**
   * Registers a source before it delivers. By default it counts as idle until it does; with
   * `idle: false` it holds W (at `watermark`, -infinity if unknown) until it delivers or is marked idle.
   */
  addSource(source: string, options: { idle?: boolean; watermark?: number } = {}): void {
    this.addSources([{ source, ...options }]);
  }

  /**
   * Registers several sources at once (a new partition assignment). W is recomputed once, after all
   * of them: added one by one, the first would pull W up to its own value, and W never goes back.
   */
  addSources(sources: readonly { source: string; idle?: boolean; watermark?: number }[]): void {
    for (const { source, idle, watermark } of sources) {
      if (this.perSource.has(source)) continue;
      this.perSource.set(source, watermark ?? Number.NEGATIVE_INFINITY);
      if (idle ?? true) this.idle.add(source);
    }
    this.recompute();
  }

  /**
   * Raises `source`'s W to `w` (never lowers it) and counts it as delivering again: how a tracker over
   * partitions learns each partition's own W from the operator that judged its events.
   */
  advanceSource(source: string, w: number): number {
    const before = this.perSource.get(source);
    if (before === undefined || w > before) this.perSource.set(source, w);
    this.idle.delete(source);
    this.recompute();
    return this.combined;
  }

  /** Forgets a source (a partition handed to another worker). */
  removeSource(source: string): void {
    this.perSource.delete(source);
    this.idle.delete(source);
    this.recompute();
  }

  /** Restores the monotonic operator W after a restart (it never goes back). */
  raiseTo(w: number): void {
    if (w > this.combined) this.combined = w;
  }

  isIdle(source: string): boolean {
    return this.idle.has(source);
  }

  setIdle(source: string, idle: boolean): number {
    if (idle) this.idle.add(source);
    else this.idle.delete(source);
    this.recompute();
    return this.combined;
  }

  /** End of a bounded input: W = +infinity. */
  finish(): number {
    this.finished = true;
    this.combined = Number.POSITIVE_INFINITY;
    return this.combined;
  }

  /** Per-source watermarks, for diagnostics. */
  perSourceWatermarks(): Record<string, number> {
    return Object.fromEntries(this.perSource);
  }

  /** Everything needed to continue exactly where this tracker is (JSON-safe: infinities as null). */
  snapshot(): WatermarkSnapshot {
    const drained = [...this.perSource].filter(([, w]) => w === Number.POSITIVE_INFINITY).map(([source]) => source);
    return {
      sources: [...this.perSource].map(([source, w]) => [source, finiteOrNull(w)]),
      idle: [...this.idle],
      ...(drained.length > 0 ? { drained } : {}),
      combined: finiteOrNull(this.combined),
      finished: this.finished,
    };
  }

  static restore(maxOutOfOrderness: Millis, snap: WatermarkSnapshot): WatermarkTracker {
    const t = new WatermarkTracker(maxOutOfOrderness);
    for (const [source, w] of snap.sources) t.perSource.set(source, sourceWatermarkOf(snap, source, w));
    for (const source of snap.idle) t.idle.add(source);
    t.finished = snap.finished;
    t.combined = snap.finished ? Number.POSITIVE_INFINITY : (snap.combined ?? Number.NEGATIVE_INFINITY);
    return t;
  }

  private recompute(): void {
    if (this.finished) return;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const [source, w] of this.perSource) {
      if (w > max) max = w;
      if (!this.idle.has(source) && w < min) min = w;
    }
    const next = min === Number.POSITIVE_INFINITY ? max : min;
    // W never goes back, even when a source wakes up behind it.
    if (next > this.combined) this.combined = next;
  }
}
