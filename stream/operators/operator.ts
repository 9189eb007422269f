import type { AnyEvent } from '../../schemas/schema.ts';
import { definitionVersion, type PipelineDefinition } from '../../pipeline/definition.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { compileFilter } from '../../pipeline/filter.ts';
import { WatermarkTracker, type WatermarkSnapshot } from '../../pipeline/watermark.ts';
import type { EventPosition, LateRecord, ResultRecord } from '../../schemas/results.ts';
import type { PartsCheckpoint } from '../merge-checkpoints.ts';

/** Where an operator sends what it emits. Sinks decide how (file, Kafka, store). */
export interface Emitter {
  result(record: ResultRecord): void;
  /** An event late for all of its windows (the side output). */
  late(record: LateRecord): void;
  /** Optional: each window that skipped a late event, even when other windows took it (hopping). */
  skipped?(record: LateRecord): void;
  /** Optional: a late rule event within the allowed lateness, evaluated once on arrival. */
  lateAccepted?(record: LateRecord): void;
  /** Optional: a valid event the pipeline's `where` left out (not taken, never late). */
  filtered?(): void;
}

/**
 * An incremental operator over one ordered input. `process` judges the event against the W in
 * force before it, then advances W and fires what became due. Calls are synchronous: callers feed
 * whole batches in a loop, and batch boundaries never change the output.
 */
export interface StreamOperator {
  process(event: AnyEvent, position: EventPosition): void;
  /** End of a bounded input: W = +infinity, everything still open fires once. */
  finish(): void;
  /** W moved without an event of this operator (a shared watermark, an idle source): fire what is due. */
  onWatermark(w: number): void;
  readonly watermark: number;
  /** How much state it holds: open (window, key) cells (windowed), kept events (a rule); what the state budget counts. */
  readonly stateEntries: number;
  /** The operator's whole state (windows or kept events, and its watermark), JSON-safe, for checkpoints. */
  snapshot(): OperatorSnapshot;
  /**
   * Optional: an incremental checkpoint, the head (the state without its parts) and each part changed
   * since the last call (stream/partition-checkpoint.ts). Each call forgets what it reported: the caller
   * writes every delta it takes, or drops the operator (restored from what was written).
   */
  checkpoint?(): OperatorCheckpoint;
  /**
   * Whether the state changed (events taken, windows fired or dropped, events decided or forgotten)
   * since the last call; resets. A checkpoint need not rewrite an operator that answers false.
   */
  takeChanged(): boolean;
}

/** A checkpoint of one operator; `definition` guards against restoring into another definition. */
export interface OperatorSnapshot {
  definition: string;
  watermark: WatermarkSnapshot;
  state: unknown;
  /** Windowed: the W windows have been fired up to, when a caller fired them beyond the operator's own W (null: -infinity). */
  firing?: number | null;
}

/** An incremental checkpoint of an operator: parts are a rule's keys, a windowed operator's window cells. */
export type OperatorCheckpoint = PartsCheckpoint<OperatorSnapshot>;

export interface OperatorOptions {
  /** A watermark tracker shared with other operators (several partitions of one operator). */
  tracker?: WatermarkTracker;
  /** Continue from a checkpoint taken with `snapshot()`, or the head of one taken with `checkpoint()`. */
  restore?: OperatorSnapshot;
  /** With `restore`: the latest part (JSON) of every id an incremental checkpoint wrote and did not delete. */
  restoreParts?: readonly string[];
}

/** The tracker an operator uses: shared, restored from its checkpoint, or new. */
export function trackerFor(maxOutOfOrderness: number, options: OperatorOptions): WatermarkTracker {
  if (options.tracker) return options.tracker;
  return options.restore ? WatermarkTracker.restore(maxOutOfOrderness, options.restore.watermark) : new WatermarkTracker(maxOutOfOrderness);
}

/**
 * What every operator shares: its W, its `where`, and the order of `process` (the event is judged by
 * the W in force before it, then W advances and what became due fires), so both kinds of operator keep
 * the one contract. Subclasses say what accepting an event and a moved W do.
 */
export abstract class EventTimeOperator implements StreamOperator {
  protected readonly tracker: WatermarkTracker;
  protected readonly emitter: Emitter;
  /** The definition's version: checkpoints and results carry it. */
  protected readonly version: string;
  /** Whether the state changed since `takeChanged` last asked. */
  protected changed = false;
  private readonly timeField: string;
  /** The pipeline's `where`; undefined keeps every event. */
  private readonly keep: ((event: AnyEvent) => boolean) | undefined;

  protected constructor(def: PipelineDefinition, emitter: Emitter, options: OperatorOptions) {
    this.emitter = emitter;
    this.version = definitionVersion(def);
    this.timeField = def.schema.timeField;
    this.keep = compileFilter(def.where);
    this.tracker = trackerFor(def.watermark.maxOutOfOrderness, options);
  }

  /** The W events are judged against and state is dropped by (the tracker's). */
  get watermark(): number {
    return this.tracker.current;
  }

  process(event: AnyEvent, position: EventPosition): void {
    const ts = event[this.timeField] as number;
    const w = this.tracker.current;
    // Dropped by `where`: not taken, not late, but the input's watermark still moves.
    if (this.keep === undefined || this.keep(event)) this.accept(event, position, ts, w);
    else this.emitter.filtered?.();
    const next = this.tracker.observe(position.source, ts);
    if (next !== w) {
      this.changed = true;
      this.onWatermark(next);
    }
  }

  takeChanged(): boolean {
    const changed = this.changed;
    this.changed = false;
    return changed;
  }

  /** An event that passed `where`, at event time `ts`, judged by `w` (the W before it). */
  protected abstract accept(event: AnyEvent, position: EventPosition, ts: number, w: number): void;
  abstract get stateEntries(): number;
  abstract onWatermark(w: number): void;
  abstract finish(): void;
  abstract snapshot(): OperatorSnapshot;
}

/** A checkpoint of another definition (or version of it) must not be restored silently. */
export function checkSnapshot(snap: OperatorSnapshot, version: string, pipeline: string): void {
  if (snap.definition !== version) {
    throw new ConcordError(
      `${pipeline}: checkpoint was taken with definition version ${snap.definition}, this is ${version}; ` +
        'reprocess from the archive (replay + reconcile) instead of restoring it',
      { domain: 'user' },
    );
  }
}

/** Collects everything an operator emits (tests, reconcile's shadow run, the demo). */
export class CollectingEmitter implements Emitter {
  readonly results: ResultRecord[] = [];
  readonly lates: LateRecord[] = [];
  readonly skips: LateRecord[] = [];
  result(record: ResultRecord): void {
    this.results.push(record);
  }
  late(record: LateRecord): void {
    this.lates.push(record);
  }
  skipped(record: LateRecord): void {
    this.skips.push(record);
  }
}
