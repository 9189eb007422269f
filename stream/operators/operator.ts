import type { AnyEvent } from '../../schemas/schema.ts';
import type { EventPosition, LateRecord, ResultRecord } from '../../schemas/results.ts';

/** Where an operator sends what it emits. Sinks decide how (file, Kafka, store). */
export interface Emitter {
  result(record: ResultRecord): void;
  /** An event late for all of its windows (the side output). */
  late(record: LateRecord): void;
  /** Optional: each window that skipped a late event, even when other windows took it (hopping). */
  skipped?(record: LateRecord): void;
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
  readonly watermark: number;
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
