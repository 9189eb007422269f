import { WatermarkTracker, type WatermarkSnapshot } from '../pipeline/watermark.ts';
import type { Millis } from '../pipeline/time.ts';

/**
 * The watermark of a rule's merge operator: an ordinary tracker over every input partition (one
 * source each), fed with what the workers report of each partition (its own W, idleness), so its W is
 * the one a single operator reading every partition would have. One addition: for the next event only,
 * `judgeNextAt(w)` makes the operator see the W the worker judged that event against, so the worker's
 * verdict (on time, or late within L and evaluated on arrival) is the one the operator acts on; the
 * operator's own `observe` after the event ends it. The merged W itself is never touched by it.
 */
export class VerdictTracker extends WatermarkTracker {
  private readonly maxOutOfOrderness: Millis;
  private verdict: number | undefined;

  constructor(maxOutOfOrderness: Millis) {
    super(maxOutOfOrderness);
    this.maxOutOfOrderness = maxOutOfOrderness;
  }

  /** Continues from `snap` (a tracker checkpointed by the merge), through the public API only. */
  static resume(maxOutOfOrderness: Millis, snap: WatermarkSnapshot): VerdictTracker {
    const t = new VerdictTracker(maxOutOfOrderness);
    const idle = new Set(snap.idle);
    t.addSources(snap.sources.map(([source, w]) => ({ source, idle: idle.has(source), watermark: w ?? Number.NEGATIVE_INFINITY })));
    // The merged W is the highest it ever was (it never goes back), not what the sources give now.
    if (snap.combined !== null) t.raiseTo(snap.combined);
    if (snap.finished) t.finish();
    return t;
  }

  override get current(): number {
    return this.verdict ?? super.current;
  }

  /** The W the worker judged the next event against (undefined: none, the merged W). */
  judgeNextAt(w: number | undefined): void {
    this.verdict = w;
  }

  override observe(source: string, ts: Millis): number {
    this.verdict = undefined;
    return super.observe(source, ts);
  }

  /**
   * What a worker reports of `source`: its own W (raised to, never lowered: reports of a partition
   * only grow, whichever worker owns it) and whether it is idle. Returns the merged W.
   */
  report(source: string, watermark: number, idle: boolean): number {
    // observe(ts) raises the source's W to ts - B - 1: the inverse gives exactly `watermark` (and un-idles).
    super.observe(source, watermark + this.maxOutOfOrderness + 1);
    if (idle) this.setIdle(source, true);
    return super.current;
  }
}
