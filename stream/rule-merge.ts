import { definitionVersion, type RulePipeline } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import type { ResultRecord } from '../schemas/results.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { createOperator, type StreamOperator } from './operators/index.ts';
import { BinaryHeap } from './operators/binary-heap.ts';
import { CanonicalClock, MergedWatermark } from './rule-merge-tracker.ts';
import {
  fromHeldWire, fromParts, operatorToRestore, RuleMergeChanges, toHeldWire, type RuleMergeDelta, type RuleMergeSnapshot,
} from './rule-merge-checkpoint.ts';
import { OTHER_VERSION_ADVICE } from './partition-checkpoint.ts';
import type { UpgradeFrom } from './upgrade-from.ts';

/** One event a worker accepted for the rule (see RuleEventMessage), decoded. */
export interface ForwardedEvent {
  readonly partition: number;
  readonly offset: number;
  /** The W the worker judged the event against: its verdict. */
  readonly verdictWatermark: number;
  /** The partition's own W before the event. */
  readonly sourceWatermark: number;
  readonly event: AnyEvent;
}

/**
 * An event the stage fed its operator out of the canonical order: its partition woke up from idle
 * behind the merge, so the clock had already passed the W it met (processing time decided that). An
 * on-time one with ts <= clock is decided at once, a late one evaluated at its verdict W, both against
 * the events kept at that moment. Recorded in the late log (kafka-merge.ts) so that reconcile's rule
 * recomputation feeds it at the same point (reconcile/rule-recompute.ts): `decidedAt`, the clock then;
 * `order`, its rank among the stage's out-of-order events (those at one clock came in arrival order).
 */
export interface OutOfOrderDecision {
  readonly event: AnyEvent;
  readonly partition: number;
  readonly offset: number;
  readonly verdictWatermark: number;
  readonly decidedAt: number;
  readonly order: number;
  /** Late within L (the worker logged it too); false: on time, decided at once. */
  readonly evaluatedOnArrival: boolean;
}

export interface RuleMergeStats {
  events: number;
  /** Events already merged (offset not above the partition's last one): re-sent, ignored. */
  duplicates: number;
}

/** An event's place in the canonical order: the W its partition had before it, the partition, the offset. */
export interface CanonicalPlace {
  readonly sourceWatermark: number;
  readonly partition: number;
  readonly offset: number;
}

/**
 * The canonical order, a function of each partition's contents alone: the merge stage releases held events
 * in it, and reconcile's rule recomputation feeds events evaluated on arrival in it.
 */
export function compareCanonical(a: CanonicalPlace, b: CanonicalPlace): number {
  // Equal infinite W subtract to NaN (falsy): equal, as they are.
  return a.sourceWatermark - b.sourceWatermark || a.partition - b.partition || a.offset - b.offset;
}

const canonicalBefore = (a: ForwardedEvent, b: ForwardedEvent): boolean => compareCanonical(a, b) < 0;

/**
 * The merge stage of a rule keyed by another field than the partition key: a key's events arrive in
 * several partitions, so no partition's operator could decide them. Workers forward the events each
 * partition accepted (with their verdict and the partition's W) and report each partition's W; this
 * runs ONE lookback operator over all of them.
 *
 * In the canonical order, not in arrival order: how the partitions' records interleave in the partials
 * topic depends on fetch timing, kills and the number of workers, and an event evaluated on arrival
 * (late within L) sees what arrived before it. So events are held until the merged W (the minimum over
 * the partitions' own W, MergedWatermark) passes the W their partition had before them — no partition
 * sends an event below that W any more — and released ordered by that W, partition and offset: a
 * function of each partition's contents alone. The operator's W is a clock moved along that order
 * (CanonicalClock): the W each released event met, then the merged W. An on-time event is decided once
 * the clock >= ts, in `(ts, id)` order per key, as in one operator. Lateness is the worker's verdict,
 * never re-judged: a late event is evaluated at its release, at the W the worker met; an event the worker
 * took as on time is never dropped, and one the clock has passed already (its partition woke up from
 * idle behind the merge) is decided at once, as on time (docs/semantics.md, "Rules in the merge stage").
 * Pure: no I/O.
 */
export class RuleMergeStage {
  readonly def: RulePipeline;
  private readonly version: string;
  private readonly sourceOf: (partition: number) => string;
  private readonly partitions: number;
  private merged!: MergedWatermark;
  private clock!: CanonicalClock;
  private operator!: StreamOperator;
  private held!: BinaryHeap<ForwardedEvent>;
  /** What the next incremental checkpoint writes (rule-merge-checkpoint.ts). */
  private readonly changes: RuleMergeChanges;
  private readonly out: ResultRecord[] = [];
  private readonly outOfOrder: OutOfOrderDecision[] = [];
  /** The next out-of-order event's `order` (checkpointed: an order is a fact of the committed history). */
  private outOfOrderCount = 0;
  private readonly offsets = new Map<number, number>();
  readonly stats: RuleMergeStats = { events: 0, duplicates: 0 };

  /** `inputTopic`: the events' topic, whose partitions `0..partitions-1` are the sources (`topic:partition`). */
  constructor(def: RulePipeline, inputTopic: string, partitions: number) {
    this.def = def;
    this.version = definitionVersion(def);
    this.sourceOf = (p) => `${inputTopic}:${p}`;
    this.partitions = partitions;
    this.changes = new RuleMergeChanges(this.version);
    this.start(undefined);
  }

  /** `keys`: the operator's key parts (given: restored from an incremental checkpoint, which tracks its changed keys). */
  private start(snap: RuleMergeSnapshot | undefined, keys?: readonly string[]): void {
    const B = this.def.watermark.maxOutOfOrderness;
    if (snap) {
      // A checkpoint from before the canonical order kept one tracker, the merged W, as the operator's:
      // the clock resumes at it either way.
      this.merged = MergedWatermark.resume(B, snap.merged ?? snap.operator.watermark);
      this.clock = CanonicalClock.resume(B, snap.operator.watermark);
    } else {
      this.merged = new MergedWatermark(B);
      // Every partition holds the merged W back until its worker reports it (as a worker's own partitions do).
      this.merged.addSources(Array.from({ length: this.partitions }, (_, p) => ({ source: this.sourceOf(p), idle: false })));
      this.clock = new CanonicalClock(B);
    }
    this.held = new BinaryHeap<ForwardedEvent>(canonicalBefore);
    this.outOfOrderCount = snap?.outOfOrder ?? 0;
    for (const e of snap?.held ?? []) this.held.push(fromHeldWire(e));
    this.operator = createOperator(this.def, {
      result: (r) => this.out.push(r),
      late: () => {
        throw new ConcordError(`${this.def.name}: the rule merge dropped an event as late; workers forward only events they accepted`);
      },
      // Recorded by the worker that judged it (concord.late), not again here.
      lateAccepted: () => undefined,
    }, { tracker: this.clock, ...(snap ? { restore: operatorToRestore(snap.operator, this.version), ...(keys ? { restoreParts: keys } : {}) } : {}) });
  }

  /** The merged W: the minimum over the input partitions' own W (those not idle). */
  get watermark(): number {
    return this.merged.current;
  }

  private checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new ConcordError(`${this.def.name}: input partition ${partition}, but the merge has ${this.partitions} inputs`);
    }
  }

  /** One forwarded event, in the order the partials partition holds them. */
  event(e: ForwardedEvent): void {
    this.checkPartition(e.partition);
    const last = this.offsets.get(e.partition);
    if (last !== undefined && e.offset <= last) {
      this.stats.duplicates++;
      return;
    }
    this.offsets.set(e.partition, e.offset);
    this.stats.events++;
    // Events the merge never sees (filtered out, dropped as late) moved the partition's W: the event's
    // record says where it stands.
    this.merged.report(this.sourceOf(e.partition), e.sourceWatermark, false);
    this.held.push(e);
    this.changes.held(e);
  }

  /** A worker's report of input `partition`: its own W and whether it is idle (applied at the next `advance`). */
  progress(partition: number, sourceWatermark: number, idle: boolean): void {
    this.checkPartition(partition);
    this.merged.report(this.sourceOf(partition), sourceWatermark, idle);
  }

  /** Releases what the merged W made final; the alerts raised since the last call, in the order the operator raised them. */
  advance(): ResultRecord[] {
    this.release();
    return this.out.splice(0, this.out.length);
  }

  /** The events fed out of the canonical order since the last call (for the late log, in the same transaction). */
  takeOutOfOrder(): OutOfOrderDecision[] {
    return this.outOfOrder.splice(0, this.outOfOrder.length);
  }

  /**
   * Feeds the operator the held events the merged W has passed, in the canonical order: before each, the
   * clock moves to the W its partition met (deciding what that makes due, as one operator would before
   * reading it); then the clock moves to the merged W.
   */
  private release(): void {
    const m = this.merged.current;
    for (let e = this.held.peek(); e !== undefined && e.sourceWatermark < m; e = this.held.peek()) {
      this.held.pop();
      this.changes.release(e);
      this.moveClock(e.sourceWatermark);
      this.noteOutOfOrder(e);
      this.clock.judgeNextAt(e.verdictWatermark);
      try {
        this.operator.process(e.event, { source: this.sourceOf(e.partition), offset: e.offset });
      } finally {
        this.clock.judgeNextAt(undefined);
      }
    }
    this.moveClock(m);
  }

  /**
   * An event whose partition's W is behind the clock (it woke up from idle behind the merge) and that the
   * clock's position changes: decided at once (on time, ts <= clock) or evaluated late amid events the
   * canonical order would have fed after it. One on time with ts above the clock waits its turn as usual.
   */
  private noteOutOfOrder(e: ForwardedEvent): void {
    const clock = this.clock.current;
    if (!(e.sourceWatermark < clock)) return;
    const ts = e.event[this.def.schema.timeField] as number;
    const evaluatedOnArrival = ts <= e.verdictWatermark;
    if (!evaluatedOnArrival && ts > clock) return;
    this.outOfOrder.push({ event: e.event, partition: e.partition, offset: e.offset, verdictWatermark: e.verdictWatermark, decidedAt: clock, order: this.outOfOrderCount++, evaluatedOnArrival });
  }

  private moveClock(w: number): void {
    const before = this.clock.current;
    this.clock.advanceTo(w);
    if (this.clock.current !== before) this.operator.onWatermark(this.clock.current);
  }

  snapshot(): RuleMergeSnapshot {
    return { ...this.head(), held: this.held.values().map(toHeldWire) };
  }

  /** The stage without its held events (the head of an incremental checkpoint). */
  private head(): RuleMergeSnapshot {
    return {
      definition: this.version, operator: this.operator.snapshot(), offsets: [...this.offsets], merged: this.merged.snapshot(), held: [],
      ...(this.outOfOrderCount > 0 ? { outOfOrder: this.outOfOrderCount } : {}),
    };
  }

  /** An incremental checkpoint: what changed since the last call (RuleMergeChanges.delta). */
  checkpoint(upgradeFrom?: UpgradeFrom): RuleMergeDelta {
    const operator = this.operator.checkpoint!();
    return this.changes.delta(this.head(), operator, upgradeFrom);
  }

  /**
   * Restores an incremental checkpoint: the head and the latest part (JSON) of every event still held
   * (an array) and of every key the operator holds (an object); a head with the operator whole (written
   * before its keys were parts) restores it whole.
   */
  restoreParts(head: RuleMergeSnapshot, parts: Iterable<string>): void {
    const { snapshot, keys } = fromParts(head, parts);
    this.restore(snapshot, keys);
    // A head holding events is a whole checkpoint: the next incremental one must write them all.
    this.changes.restored(keys, (head.held ?? []).length > 0 ? this.held.values() : []);
  }

  /** `keys`: see `start`. */
  restore(snap: RuleMergeSnapshot, keys?: readonly string[]): void {
    if (snap.definition !== this.version) {
      throw new ConcordError(`${this.def.name}: the merge checkpoint is from another definition version; ${OTHER_VERSION_ADVICE}`, { domain: 'user' });
    }
    this.out.length = 0;
    this.outOfOrder.length = 0;
    this.changes.clear();
    this.start(snap, keys);
    this.offsets.clear();
    for (const [p, offset] of snap.offsets) this.offsets.set(p, offset);
  }
}
