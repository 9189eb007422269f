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
import { readVerdicts, verdictTableDdl, writeVerdicts, type VerdictTable } from './event-verdicts.ts';
import type { SqlDriver } from './sql-driver.ts';

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

const TABLE: VerdictTable = { table: 'rejected_events', stage: 'stage_rejected', detail: { name: 'reason', type: 'TEXT' } };

export const REJECTED_EVENTS_DDL = (s: string) => verdictTableDdl(TABLE, s);

/** Inserts the records not stored yet; returns how many were new. */
export function writeRejected(tx: SqlDriver, s: string, records: readonly RejectionRecord[]): Promise<number> {
  return writeVerdicts(tx, s, TABLE, records.map((r) => ({ ...r, detail: cut(r.reason) })));
}

/** The refusals of `schema`'s events with from <= event time < to, as reconcile's verdicts (`rejected`: the reason). */
export async function readRejectedEvents(db: SqlDriver, s: string, schema: string, from: number, to: number): Promise<StreamQuarantine[]> {
  const rows = await readVerdicts(db, s, TABLE, schema, from, to);
  return rows.map((r) => ({ position: { source: r.source, offset: r.offset }, eventTime: r.eventTime, rejected: String(r.detail) }));
}
