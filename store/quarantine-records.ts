/**
 * The stream's time-quarantine verdicts kept beside its results (table `quarantined_events`): where an
 * event was held for its time, and the reference it met: too far ahead of it (reason `future_timestamp`,
 * max_future_skew) or too far behind (reason `past_horizon`). Reconcile reads them as evidence
 * (reconcile/stream-quarantine.ts): the archive may have counted what the stream never did. Kept per
 * input schema (a dead letter is the input's, not a pipeline's), keyed by position: a rerun over the same
 * input, or a sink reading its topic again, writes nothing twice. The reason is the sign of
 * `event_ts - reference` (ahead: future_timestamp, behind: past_horizon; the time guard's two tests are
 * strict, so never equal): the table, made before past_horizon verdicts were kept, has no column for it,
 * and a column added to a store made before would need its owner's role (docs/operations.md).
 */
import type { StreamQuarantine } from '../reconcile/stream-quarantine.ts';
import type { TimeVerdictReason } from '../pipeline/time-guard.ts';
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

/** The time guard's reasons (pipeline/time-guard.ts): before 2026-12-07 only future_timestamp was kept. */
const TIME_REASONS: ReadonlySet<string> = new Set<TimeVerdictReason>(['future_timestamp', 'past_horizon']);

/** The record of a dead letter the time guard wrote (future_timestamp, past_horizon); null for any other. */
export function quarantineRecord(d: DeadLetter, schema: string): QuarantineRecord | null {
  if (!TIME_REASONS.has(d.reason) || d.reference === undefined) return null;
  return { schema, source: d.source, offset: d.offset, eventTime: d.reference.eventTime, reference: d.reference.at };
}

/**
 * The record of a dead letter as written out (schemas/decode.ts `deadLetterToJson`: the workers'
 * dead-letter topic); null for another reason, or one written before dead letters carried `event_time`.
 */
export function quarantineRecordOfJson(row: Record<string, unknown>): QuarantineRecord | null {
  if (typeof row.reason !== 'string' || !TIME_REASONS.has(row.reason) || typeof row.schema !== 'string' || typeof row.source !== 'string' || typeof row.offset !== 'number') return null;
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
