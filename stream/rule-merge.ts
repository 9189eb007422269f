import { definitionVersion, type RulePipeline } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import type { ResultRecord } from '../schemas/results.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { createOperator, type OperatorSnapshot, type StreamOperator } from './operators/index.ts';
import { VerdictTracker } from './rule-merge-tracker.ts';

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

export interface RuleMergeSnapshot {
  readonly definition: string;
  /** The one operator's state, its tracker (every partition's W and idleness) included. */
  readonly operator: OperatorSnapshot;
  /** Last forwarded offset merged, per input partition. */
  readonly offsets: [number, number][];
}

export interface RuleMergeStats {
  events: number;
  /** Events already merged (offset not above the partition's last one): re-sent, ignored. */
  duplicates: number;
}

/**
 * The merge stage of a rule keyed by another field than the partition key: a key's events arrive in
 * several partitions, so no partition's operator could decide them. Workers forward the events each
 * partition accepted (with their verdict and the partition's W) and report each partition's W; this
 * runs ONE lookback operator over all of them, its W the minimum over the partitions rebuilt from those
 * reports (VerdictTracker), so an event is decided when one operator reading every partition would
 * decide it. Lateness is the worker's verdict, never re-judged here: a late event (ts <= the worker's
 * W) is evaluated on arrival as the worker judged it; an event the worker took as on time is never
 * dropped, and one whose ts the merged W has already passed (a worker behind the merge) is decided at
 * once, as on time (docs/semantics.md, "Rules in the merge stage"). Pure: no I/O.
 */
export class RuleMergeStage {
  readonly def: RulePipeline;
  private readonly version: string;
  private readonly sourceOf: (partition: number) => string;
  private readonly partitions: number;
  private tracker!: VerdictTracker;
  private operator!: StreamOperator;
  private readonly out: ResultRecord[] = [];
  private readonly offsets = new Map<number, number>();
  /** The merged W the operator was last advanced to. */
  private applied = Number.NEGATIVE_INFINITY;
  readonly stats: RuleMergeStats = { events: 0, duplicates: 0 };

  /** `inputTopic`: the events' topic, whose partitions `0..partitions-1` are the sources (`topic:partition`). */
  constructor(def: RulePipeline, inputTopic: string, partitions: number) {
    this.def = def;
    this.version = definitionVersion(def);
    this.sourceOf = (p) => `${inputTopic}:${p}`;
    this.partitions = partitions;
    this.start(undefined);
  }

  private start(snap: OperatorSnapshot | undefined): void {
    const B = this.def.watermark.maxOutOfOrderness;
    if (snap) this.tracker = VerdictTracker.resume(B, snap.watermark);
    else {
      this.tracker = new VerdictTracker(B);
      // Every partition holds the merged W back until its worker reports it (as a worker's own partitions do).
      this.tracker.addSources(Array.from({ length: this.partitions }, (_, p) => ({ source: this.sourceOf(p), idle: false })));
    }
    this.operator = createOperator(this.def, {
      result: (r) => this.out.push(r),
      late: () => {
        throw new ConcordError(`${this.def.name}: the rule merge dropped an event as late; workers forward only events they accepted`);
      },
      // Recorded by the worker that judged it (concord.late), not again here.
      lateAccepted: () => undefined,
    }, { tracker: this.tracker, ...(snap ? { restore: snap } : {}) });
    this.applied = this.tracker.current;
  }

  /** The merged W: one operator's W over every input partition. */
  get watermark(): number {
    return this.tracker.current;
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
    const source = this.sourceOf(e.partition);
    // Events the merge never sees (filtered out, dropped as late) moved the partition's W: decide what
    // that made due before this event, as the one operator would have.
    this.tracker.report(source, e.sourceWatermark, false);
    this.apply();
    this.tracker.judgeNextAt(e.verdictWatermark);
    try {
      this.operator.process(e.event, { source, offset: e.offset });
    } finally {
      this.tracker.judgeNextAt(undefined);
    }
    this.apply();
  }

  /**
   * A worker's report of input `partition`: its own W and whether it is idle. Applied at the next event
   * or `advance`, not here: a worker reports its partitions one by one (a drain: each to +infinity), and
   * one operator would have met only the W they give together.
   */
  progress(partition: number, sourceWatermark: number, idle: boolean): void {
    this.checkPartition(partition);
    this.tracker.report(this.sourceOf(partition), sourceWatermark, idle);
  }

  /** The alerts raised since the last call, in the order the operator raised them. */
  advance(): ResultRecord[] {
    this.apply();
    return this.out.splice(0, this.out.length);
  }

  private apply(): void {
    const w = this.tracker.current;
    if (w === this.applied) return;
    this.applied = w;
    this.operator.onWatermark(w);
  }

  snapshot(): RuleMergeSnapshot {
    return { definition: this.version, operator: this.operator.snapshot(), offsets: [...this.offsets] };
  }

  restore(snap: RuleMergeSnapshot): void {
    if (snap.definition !== this.version) {
      throw new ConcordError(`${this.def.name}: the merge checkpoint is from another definition version; use a new --group`, { domain: 'user' });
    }
    this.out.length = 0;
    this.start(snap.operator);
    this.offsets.clear();
    for (const [p, offset] of snap.offsets) this.offsets.set(p, offset);
  }
}
