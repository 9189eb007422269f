import type { Millis } from './time.ts';

/**
 * Bounded-out-of-orderness watermark, Flink's numbers: per source W_s := max(W_s, ts - B - 1),
 * starting at -infinity; the operator's W is the minimum over sources that are not idle.
 * A source marked idle stops holding W back until it delivers again. With every source idle,
 * W is the maximum over sources (nothing is holding it back).
 */
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

  /** Registers a source that has delivered nothing yet (it counts as idle until it does). */
  addSource(source: string): void {
    if (!this.perSource.has(source)) {
      this.perSource.set(source, Number.NEGATIVE_INFINITY);
      this.idle.add(source);
    }
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

  /** Per-source watermarks, for checkpoints and diagnostics. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.perSource);
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
