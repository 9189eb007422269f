/**
 * The stream's time-quarantine verdicts kept beside its results (table `quarantined_events`): where an
 * event was held for a time too far ahead of its reference, and when. Reconcile reads them as evidence
 * (reconcile/stream-quarantine.ts): the archive may have counted what the stream never did. Kept per
 * input schema (a dead letter is the input's, not a pipeline's), keyed by position: a rerun over the same
 * input, or a sink reading its topic again, writes nothing twice.
 */
import type { StreamQuarantine } from '../reconcile/stream-quarantine.ts';
import type { DeadLetter } from '../schemas/results.ts';
import type { SqlDriver, StageColumn } from './sql-driver.ts';

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

export const QUARANTINED_EVENTS_DDL = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.quarantined_events (schema_name TEXT NOT NULL,
  source TEXT NOT NULL, "offset" BIGINT NOT NULL, event_ts BIGINT NOT NULL, reference BIGINT NOT NULL, PRIMARY KEY (schema_name, source, "offset"))`;

const COLUMNS: StageColumn[] = [
  { name: 'schema_name', type: 'TEXT' }, { name: 'source', type: 'TEXT' }, { name: 'off', type: 'BIGINT' }, { name: 'event_ts', type: 'BIGINT' }, { name: 'reference', type: 'BIGINT' },
];

/** Inserts the records not stored yet; returns how many were new. */
export async function writeQuarantined(tx: SqlDriver, s: string, records: readonly QuarantineRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const unique = new Map(records.map((r) => [`${r.schema}\u0000${r.source}\u0000${r.offset}`, r]));
  const stage = await tx.stage(s, 'stage_quarantined', COLUMNS, [...unique.values()].map((r) => [r.schema, r.source, r.offset, Math.trunc(r.eventTime), Math.trunc(r.reference)]));
  return tx.execute(
    `INSERT INTO ${s}.quarantined_events (schema_name, source, "offset", event_ts, reference)
     SELECT schema_name, source, off, event_ts, reference FROM ${stage} q
     WHERE NOT EXISTS (SELECT 1 FROM ${s}.quarantined_events e WHERE e.schema_name = q.schema_name AND e.source = q.source AND e."offset" = q.off)`);
}

/** The largest epoch ms a date holds (ECMAScript's limit). */
const MAX_TIME = 8.64e15;

/** The verdicts of `schema`'s events with from <= event time < to. */
export async function readQuarantined(db: SqlDriver, s: string, schema: string, from: number, to: number): Promise<StreamQuarantine[]> {
  const rows = await db.query(
    `SELECT source, "offset", event_ts, reference FROM ${s}.quarantined_events WHERE schema_name = $1 AND event_ts >= $2 AND event_ts < $3 ORDER BY source, "offset"`,
    // Within what a BIGINT holds (an open end, +-Infinity, is every time there is).
    [schema, Math.floor(Math.max(from, -MAX_TIME)), Math.ceil(Math.min(to, MAX_TIME))]);
  return rows.map((r) => ({ position: { source: String(r.source), offset: Number(r.offset) }, eventTime: Number(r.event_ts), reference: Number(r.reference) }));
}
