/**
 * The stream's time-quarantine verdicts kept beside its results (table `quarantined_events`): where an
 * event was held for a time too far ahead of its reference, and when. Reconcile reads them as evidence
 * (reconcile/stream-quarantine.ts): the archive may have counted what the stream never did. Kept per
 * input schema (a dead letter is the input's, not a pipeline's), keyed by position: a rerun over the same
 * input, or a sink reading its topic again, writes nothing twice.
 */
import type { StreamQuarantine } from '../reconcile/stream-quarantine.ts';
import type { DeadLetter } from '../schemas/results.ts';
import { readVerdicts, verdictTableDdl, writeVerdicts, type VerdictTable } from './event-verdicts.ts';
import type { SqlDriver } from './sql-driver.ts';

export interface QuarantineRecord {
  readonly schema: string;
  readonly source: string;
  readonly offset: number;
  /** The event's own time (epoch ms): reconcile reads a day's verdicts by it. */
  readonly eventTime: number;
  readonly reference: number;
}

/** The record of a dead letter the time guard wrote for a future timestamp; null for any other. */
export function quarantineRecord(d: DeadLetter, schema: string): QuarantineRecord | null {
  if (d.reason !== 'future_timestamp' || d.reference === undefined) return null;
  return { schema, source: d.source, offset: d.offset, eventTime: d.reference.eventTime, reference: d.reference.at };
}

/**
 * The record of a dead letter as written out (schemas/decode.ts `deadLetterToJson`: the workers'
 * dead-letter topic); null for another reason, or one written before dead letters carried `event_time`.
 */
export function quarantineRecordOfJson(row: Record<string, unknown>): QuarantineRecord | null {
  if (row.reason !== 'future_timestamp' || typeof row.schema !== 'string' || typeof row.source !== 'string' || typeof row.offset !== 'number') return null;
  const eventTime = Date.parse(String(row.event_time)), reference = Date.parse(String(row.reference));
  if (!Number.isFinite(eventTime) || !Number.isFinite(reference)) return null;
  return { schema: row.schema, source: row.source, offset: row.offset, eventTime, reference };
}

const TABLE: VerdictTable = { table: 'quarantined_events', stage: 'stage_quarantined', detail: { name: 'reference', type: 'BIGINT' } };

export const QUARANTINED_EVENTS_DDL = (s: string) => verdictTableDdl(TABLE, s);

/** Inserts the records not stored yet; returns how many were new. */
export function writeQuarantined(tx: SqlDriver, s: string, records: readonly QuarantineRecord[]): Promise<number> {
  return writeVerdicts(tx, s, TABLE, records.map((r) => ({ ...r, detail: Math.trunc(r.reference) })));
}

/** The verdicts of `schema`'s events with from <= event time < to. */
export async function readQuarantined(db: SqlDriver, s: string, schema: string, from: number, to: number): Promise<StreamQuarantine[]> {
  const rows = await readVerdicts(db, s, TABLE, schema, from, to);
  return rows.map((r) => ({ position: { source: r.source, offset: r.offset }, eventTime: r.eventTime, reference: Number(r.detail) }));
}
