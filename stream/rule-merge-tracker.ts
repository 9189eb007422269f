import { sourceWatermarkOf, WatermarkTracker, type WatermarkSnapshot } from '../pipeline/watermark.ts';
import type { Millis } from '../pipeline/time.ts';

/**
 * The merged W of a rule's merge stage: an ordinary tracker over every input partition (one source
 * each), fed with what the workers report of each partition (its own W, idleness): the minimum over the
 * partitions that are not idle. No partition that is not idle sends an event below it any more, so the
 * events it has passed are final (RuleMergeStage releases them in the canonical order).
 */
export class MergedWatermark extends WatermarkTracker {
  private readonly maxOutOfOrderness: Millis;

  constructor(maxOutOfOrderness: Millis) {
    super(maxOutOfOrderness);
    this.maxOutOfOrderness = maxOutOfOrderness;
  }

  /** Continues from `snap` (a tracker checkpointed by the merge), through the public API only. */
  static resume(maxOutOfOrderness: Millis, snap: WatermarkSnapshot): MergedWatermark {
    const t = new MergedWatermark(maxOutOfOrderness);
    const idle = new Set(snap.idle);
    // A drained partition (its worker reported +infinity) stays drained: restored at -infinity, it held
    // the merged W back for good, and the events the last partitions' drain should decide stayed held.
    t.addSources(snap.sources.map(([source, w]) => ({ source, idle: idle.has(source), watermark: sourceWatermarkOf(snap, source, w) })));
    // The merged W is the highest it ever was (it never goes back), not what the sources give now.
    if (snap.combined !== null) t.raiseTo(snap.combined);
    if (snap.finished) t.finish();
    return t;
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

/**
 * The W of the merge stage's one rule operator: a clock the stage moves along the canonical order (the
 * partition's W each released event met, then the merged W), never by the operator's own events; and,
 * for the next event only, `judgeNextAt(w)`: the W the worker judged that event against, so the worker's
 * verdict (on time, or late within L and evaluated on arrival) is the one the operator acts on.
 */
export class CanonicalClock extends WatermarkTracker {
  private clock = Number.NEGATIVE_INFINITY;
  private verdict: number | undefined;

  static resume(maxOutOfOrderness: Millis, snap: WatermarkSnapshot): CanonicalClock {
    const c = new CanonicalClock(maxOutOfOrderness);
    c.clock = snap.finished ? Number.POSITIVE_INFINITY : (snap.combined ?? Number.NEGATIVE_INFINITY);
    return c;
  }

  override get current(): number {
    return this.verdict ?? this.clock;
  }

  /** Moves the clock to `w` (never back). */
  advanceTo(w: number): void {
    if (w > this.clock) this.clock = w;
  }

  /** The W the worker judged the next event against (undefined: none, the clock). */
  judgeNextAt(w: number | undefined): void {
    this.verdict = w;
  }

  /** The operator's own events never move the clock; one ends the verdict. */
  override observe(_source: string, _ts: Millis): number {
    this.verdict = undefined;
    return this.clock;
  }

  override finish(): number {
    this.verdict = undefined;
    this.clock = Number.POSITIVE_INFINITY;
    return this.clock;
  }

  override snapshot(): WatermarkSnapshot {
    const finished = this.clock === Number.POSITIVE_INFINITY;
    return { sources: [], idle: [], combined: Number.isFinite(this.clock) ? this.clock : null, finished };
  }
}
