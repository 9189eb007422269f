import type { PipelineDefinition } from '../pipeline/definition.ts';
import { TimeGuard, timeGuardSettings } from '../pipeline/time-guard.ts';
import { admit } from '../schemas/decode.ts';
import { rejectionText } from '../schemas/results.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';
import type { InBatch } from './kafka/client.ts';
import type { WorkerOutputs } from './worker-outputs.ts';
import type { PartitionState, WorkerPartitions } from './worker-partitions.ts';

/** The counters admission moves (the worker's stats). */
export interface AdmissionCounts {
  records: number;
  events: number;
  deadLetters: number;
  /** The first rejection's place and reason (schemas/results.ts rejectionText), for the summary: why nothing counts. */
  firstRejection: string | null;
}

/**
 * A stream worker's input records judged one by one: each becomes an event of the input schema for its
 * partition's operators, or a dead letter (it cannot be decoded, or the time guard holds its event time
 * against the record timestamp).
 */
export class WorkerAdmission {
  /** Judges event times against the record timestamps (pipeline/time-guard.ts), the archiver's reference too. */
  private timeGuard?: TimeGuard;

  constructor(
    /** Pipelines over one input schema. */
    private readonly pipelines: readonly PipelineDefinition[],
    private readonly partitions: WorkerPartitions,
    private readonly outputs: WorkerOutputs,
    private readonly counts: AdmissionCounts,
    private readonly metrics?: ProcessMetrics,
  ) {}

  /** The records of `batch` past `state.next` into the partition's operators or the dead letters; returns the events admitted. */
  admit(batch: InBatch, state: PartitionState): number {
    const source = this.partitions.source(batch.partition);
    const schema = this.pipelines[0]!.schema;
    const eventsBefore = this.counts.events, deadBefore = this.counts.deadLetters;
    for (const record of batch.records) {
      this.counts.records++;
      if (record.offset < state.next) continue; // already in the restored state
      const position = { source, offset: record.offset };
      // Consumer-side problems (tombstones, empty, not UTF-8, too long) arrive with the record; a blank value is one.
      const decoded = admit(schema, this.timeGuard ??= new TimeGuard(timeGuardSettings(schema)), record.value, record.problem, record.timestamp, position)
        ?? { ok: false as const, deadLetter: { ...position, field: null, reason: 'empty record: no event', raw: record.value }, quarantined: false };
      if (!decoded.ok) {
        this.counts.deadLetters++;
        this.counts.firstRejection ??= rejectionText(decoded.deadLetter);
        this.outputs.deadLetter(decoded.deadLetter, batch.partition);
        continue;
      }
      this.counts.events++;
      for (const op of state.operators) op.process(decoded.event, position);
    }
    const events = this.counts.events - eventsBefore;
    const metrics = this.metrics;
    if (metrics) {
      if (events > 0) for (const def of this.pipelines) metrics.eventsIn(def.name, events);
      if (this.counts.deadLetters > deadBefore) metrics.deadLetters(schema.name, this.counts.deadLetters - deadBefore);
    }
    return events;
  }
}
