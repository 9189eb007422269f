/**
 * The stream's refusals of events for their fields, kept beside its results (table `rejected_events`):
 * which event (position) of an input schema, of what time, and why. Definitions changed later without a
 * new version (an `alias` for a renamed field, a field made optional) make an archive written again keep
 * such events; reconcile reads the stream's refusals as evidence that it never counted them
 * (reconcile/stream-quarantine.ts: `parse_reject`), as it reads the time quarantine's
 * (quarantine-records.ts). Only what reconcile can use is kept: refusals of a JSON object whose time
 * field read (a line that is no JSON object, or whose time did not read, no definitions of that version
 * take), with the first REASON_CHARS of the reason; keyed by position, written once.
 */
import type { StreamQuarantine } from '../reconcile/stream-quarantine.ts';
import type { DeadLetter } from '../schemas/results.ts';
import type { SqlDriver, StageColumn } from './sql-driver.ts';

export interface RejectionRecord {
  readonly schema: string;
  readonly source: string;
  readonly offset: number;
  /** The event's time (epoch ms) as the refused object held it: reconcile reads a day's refusals by it. */
  readonly eventTime: number;
  readonly reason: string;
}

/** The reason is for whoever reads the table (cut when stored); reconcile needs only that there was one. */
const REASON_CHARS = 200;

/** Cut by code points: a pair of UTF-16 surrogates stays whole. */
const cut = (reason: string): string => {
  const chars = Array.from(reason);
  return chars.length > REASON_CHARS ? `${chars.slice(0, REASON_CHARS - 3).join('')}...` : reason;
};

/** The record of a dead letter the decoder wrote for a field of an object whose time read; null for any other. */
export function rejectionRecord(d: DeadLetter, schema: string): RejectionRecord | null {
  if (d.eventTime === undefined || d.reference !== undefined) return null;
  return { schema, source: d.source, offset: d.offset, eventTime: d.eventTime, reason: d.reason };
}

/**
 * The same from a dead letter as written out (schemas/decode.ts `deadLetterToJson`: the workers'
 * dead-letter topic); null for a time verdict (quarantine-records.ts), or one without `event_time`
 * (no time read, or written before 2026-12-07).
 */
export function rejectionRecordOfJson(row: Record<string, unknown>): RejectionRecord | null {
  if (row.reference !== undefined || typeof row.reason !== 'string' || typeof row.schema !== 'string' || typeof row.source !== 'string' || typeof row.offset !== 'number') return null;
  const eventTime = Date.parse(String(row.event_time));
  return Number.isFinite(eventTime) ? { schema: row.schema, source: row.source, offset: row.offset, eventTime, reason: row.reason } : null;
}

export const REJECTED_EVENTS_DDL = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.rejected_events (schema_name TEXT NOT NULL,
  source TEXT NOT NULL, "offset" BIGINT NOT NULL, event_ts BIGINT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (schema_name, source, "offset"))`;

const COLUMNS: StageColumn[] = [
  { name: 'schema_name', type: 'TEXT' }, { name: 'source', type: 'TEXT' }, { name: 'off', type: 'BIGINT' }, { name: 'event_ts', type: 'BIGINT' }, { name: 'reason', type: 'TEXT' },
];

/** Inserts the records not stored yet; returns how many were new. */
export async function writeRejected(tx: SqlDriver, s: string, records: readonly RejectionRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const unique = new Map(records.map((r) => [`${r.schema}\u0000${r.source}\u0000${r.offset}`, r]));
  const stage = await tx.stage(s, 'stage_rejected', COLUMNS, [...unique.values()].map((r) => [r.schema, r.source, r.offset, Math.trunc(r.eventTime), cut(r.reason)]));
  return tx.execute(
    `INSERT INTO ${s}.rejected_events (schema_name, source, "offset", event_ts, reason)
     SELECT schema_name, source, off, event_ts, reason FROM ${stage} q
     WHERE NOT EXISTS (SELECT 1 FROM ${s}.rejected_events e WHERE e.schema_name = q.schema_name AND e.source = q.source AND e."offset" = q.off)`);
}

/** The largest epoch ms a date holds (ECMAScript's limit). */
const MAX_TIME = 8.64e15;

/** The refusals of `schema`'s events with from <= event time < to, as reconcile's verdicts (`rejected`: the reason). */
export async function readRejectedEvents(db: SqlDriver, s: string, schema: string, from: number, to: number): Promise<StreamQuarantine[]> {
  const rows = await db.query(
    `SELECT source, "offset", event_ts, reason FROM ${s}.rejected_events WHERE schema_name = $1 AND event_ts >= $2 AND event_ts < $3 ORDER BY source, "offset"`,
    [schema, Math.floor(Math.max(from, -MAX_TIME)), Math.ceil(Math.min(to, MAX_TIME))]);
  return rows.map((r) => ({ position: { source: String(r.source), offset: Number(r.offset) }, eventTime: Number(r.event_ts), rejected: String(r.reason) }));
}
