import type { PipelineDefinition } from '../pipeline/definition.ts';
import { TimeGuard, timeGuardSettings } from '../pipeline/time-guard.ts';
import { admit } from '../schemas/decode.ts';
import type { AnyEvent } from '../schemas/schema.ts';
import { NULL_RECORD_KEY, needsMergeStage, partitionKeyField } from './kafka/topics.ts';
import { countDeadLetter } from './rejection-reasons.ts';
import type { InBatch } from './kafka/client.ts';
import type { WorkerOutputs } from './worker-outputs.ts';
import type { PartitionState, WorkerPartitions } from './worker-partitions.ts';

/** The counter admission moves at once (the worker's stats); the others count with the step (WorkerOutputs.counts). */
export interface AdmissionCounts {
  /** Records delivered, those already in a restored state included. */
  records: number;
}

/**
 * Why an event's record is not keyed as a pipeline computed per partition needs (`concord produce`
 * keys by the partition key field's normalised value, `NULL_RECORD_KEY` when absent), or null. A
 * producer that sends no key, or another field, spreads one key over partitions: each partition then
 * counts its share apart and, in the results topic, one share replaces the other.
 */
export function misKeyed(field: string, event: AnyEvent, recordKey: string | null): string | null {
  const value = event[field];
  const expected = value === undefined ? NULL_RECORD_KEY : String(value);
  if (recordKey === expected) return null;
  const shown = (k: string | null) => (k === null ? 'no key' : k === NULL_RECORD_KEY ? 'the null key' : JSON.stringify(k.length > 60 ? `${k.slice(0, 60)}...` : k));
  return `record key ${shown(recordKey)}, ${field} ${value === undefined ? 'absent' : JSON.stringify(value)}`;
}

/**
 * A stream worker's input records judged one by one: each becomes an event of the input schema for its
 * partition's operators, or a dead letter (it cannot be decoded, or the time guard holds its event time
 * against the record timestamp).
 */
export class WorkerAdmission {
  /** Judges event times against the record timestamps (pipeline/time-guard.ts), the archiver's reference too. */
  private timeGuard?: TimeGuard;
  /** The partition key field, when a pipeline here computes each partition apart (its results rely on the keying). */
  private readonly keyedBy: string | undefined;

  constructor(
    /** Pipelines over one input schema. */
    private readonly pipelines: readonly PipelineDefinition[],
    private readonly partitions: WorkerPartitions,
    private readonly outputs: WorkerOutputs,
    private readonly counts: AdmissionCounts,
  ) {
    const schema = pipelines[0]?.schema;
    this.keyedBy = schema && pipelines.some((p) => !needsMergeStage(p)) ? partitionKeyField(schema) : undefined;
  }

  /** The records of `batch` past `state.next` into the partition's operators or the dead letters; returns the events admitted. */
  admit(batch: InBatch, state: PartitionState): number {
    const source = this.partitions.source(batch.partition);
    const schema = this.pipelines[0]!.schema;
    // Counted with the step's outputs: added to the totals when its transaction commits, never twice.
    const step = this.outputs.counts;
    const eventsBefore = step.events;
    for (const record of batch.records) {
      this.counts.records++;
      if (record.offset < state.next) continue; // already in the restored state
      const position = { source, offset: record.offset };
      // Consumer-side problems (tombstones, empty, not UTF-8, too long) arrive with the record; a blank value is one.
      const decoded = admit(schema, this.timeGuard ??= new TimeGuard(timeGuardSettings(schema)), record.value, record.problem, record.timestamp, position)
        ?? { ok: false as const, deadLetter: { ...position, field: null, reason: 'empty record: no event', raw: record.value }, quarantined: false };
      // Counted for the step (the process's totals, once it commits) and for the partition (its checkpoint's).
      if (!decoded.ok) {
        countDeadLetter(step, decoded.deadLetter);
        countDeadLetter(state.counts, decoded.deadLetter);
        this.outputs.deadLetter(decoded.deadLetter, batch.partition);
        continue;
      }
      step.events++;
      state.counts.events++;
      if (this.keyedBy !== undefined) {
        const why = misKeyed(this.keyedBy, decoded.event, record.key);
        if (why !== null) state.counts.misKeyed++;
        if (why !== null && step.misKeyed++ === 0) step.firstMisKeyed = `${source} offset ${record.offset}: ${why}`;
      }
      for (const op of state.operators) op.process(decoded.event, position);
    }
    return step.events - eventsBefore;
  }
}
