import { definitionVersion, fieldsRead, type RulePipeline } from '../pipeline/definition.ts';
import { compileFilter } from '../pipeline/filter.ts';
import { isBeyondLateness, isDecided } from '../pipeline/lateness.ts';
import type { WatermarkTracker } from '../pipeline/watermark.ts';
import type { EventPosition } from '../schemas/results.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { toWire, type RuleEventMessage } from './merge-messages.ts';
import type { Emitter, OperatorSnapshot, StreamOperator } from './operators/index.ts';

/**
 * A worker's side of a rule whose key spans partitions (RuleMergeStage): in place of a per-partition
 * operator, whose decisions would see only that partition's share of a key, it judges each event once
 * against the worker's W, exactly as the rule operator would (pipeline/lateness.ts): filtered out:
 * nothing; late beyond L: the late output, here; otherwise forwarded to the merge with its verdict (the
 * W it met) and the partition's own W, late-within-L events also recorded as evaluated on arrival. It
 * keeps no state but the shared watermark, so its checkpoint is the partition's W.
 */
export class RuleForwarder implements StreamOperator {
  private readonly def: RulePipeline;
  private readonly partition: number;
  private readonly tracker: WatermarkTracker;
  private readonly emitter: Emitter;
  private readonly forward: (m: RuleEventMessage) => void;
  private readonly keep: ((event: AnyEvent) => boolean) | undefined;
  private readonly fields: readonly string[];
  private readonly version: string;

  constructor(def: RulePipeline, partition: number, tracker: WatermarkTracker, emitter: Emitter, forward: (m: RuleEventMessage) => void) {
    this.def = def;
    this.partition = partition;
    this.tracker = tracker;
    this.emitter = emitter;
    this.forward = forward;
    this.keep = compileFilter(def.where);
    this.fields = fieldsRead(def);
    this.version = definitionVersion(def);
  }

  get watermark(): number {
    return this.tracker.current;
  }

  /** It keeps no events: the merge stage's rule holds them. */
  readonly stateEntries = 0;

  process(event: AnyEvent, position: EventPosition): void {
    const ts = event[this.def.schema.timeField] as number;
    const w = this.tracker.current;
    if (this.keep === undefined || this.keep(event)) {
      if (isDecided(ts, w) && isBeyondLateness(ts, this.def.allowedLateness, w)) {
        this.emitter.late({ pipeline: this.def.name, event, position, watermark: w });
      } else {
        if (isDecided(ts, w)) this.emitter.lateAccepted?.({ pipeline: this.def.name, event, position, watermark: w });
        const own = this.tracker.perSourceWatermarks()[position.source] ?? Number.NEGATIVE_INFINITY;
        const fields: AnyEvent = {};
        for (const f of this.fields) if (event[f] !== undefined) fields[f] = event[f];
        this.forward({
          type: 'event', pipeline: this.def.name, definition: this.version, partition: this.partition, offset: position.offset,
          watermark: toWire(w), source_watermark: toWire(own), event: fields,
        });
      }
    } else this.emitter.filtered?.();
    // Every event moves the partition's W, filtered and late ones too.
    this.tracker.observe(position.source, ts);
  }

  /** Nothing to decide here: the merge decides, on the W the progress records report. */
  onWatermark(): void {}

  finish(): void {
    this.tracker.finish();
  }

  /** Its only state is the tracker, which moves with the partition's events (checkpointed with them). */
  takeChanged(): boolean {
    return false;
  }

  snapshot(): OperatorSnapshot {
    return { definition: this.version, watermark: this.tracker.snapshot(), state: null };
  }
}
