/**
 * The stream's verdicts on events of an input schema, kept beside its results one row per position
 * (schema_name, source, offset) with the event's time and one detail column: the time quarantine's
 * (`quarantined_events`, its reference) and the refusals for a field (`rejected_events`, the reason).
 * Reconcile reads a day's by event time; a rerun over the same input writes nothing twice.
 */
import type { SqlDriver, SqlValue } from './sql-driver.ts';

export interface VerdictTable {
  readonly table: string;
  readonly stage: string;
  /** The detail column: its name and type. */
  readonly detail: { readonly name: string; readonly type: 'TEXT' | 'BIGINT' };
}

export interface VerdictRow {
  readonly schema: string;
  readonly source: string;
  readonly offset: number;
  /** Epoch ms. */
  readonly eventTime: number;
  readonly detail: SqlValue;
}

export const verdictTableDdl = (t: VerdictTable, s: string) => `CREATE TABLE IF NOT EXISTS ${s}.${t.table} (schema_name TEXT NOT NULL,
  source TEXT NOT NULL, "offset" BIGINT NOT NULL, event_ts BIGINT NOT NULL, ${t.detail.name} ${t.detail.type} NOT NULL, PRIMARY KEY (schema_name, source, "offset"))`;

/** Inserts the rows not stored yet; returns how many were new. */
export async function writeVerdicts(tx: SqlDriver, s: string, t: VerdictTable, rows: readonly VerdictRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const unique = new Map(rows.map((r) => [`${r.schema}\u0000${r.source}\u0000${r.offset}`, r]));
  const columns = [{ name: 'schema_name', type: 'TEXT' }, { name: 'source', type: 'TEXT' }, { name: 'off', type: 'BIGINT' }, { name: 'event_ts', type: 'BIGINT' }, t.detail] as const;
  const stage = await tx.stage(s, t.stage, [...columns], [...unique.values()].map((r) => [r.schema, r.source, r.offset, Math.trunc(r.eventTime), r.detail]));
  return tx.execute(
    `INSERT INTO ${s}.${t.table} (schema_name, source, "offset", event_ts, ${t.detail.name})
     SELECT schema_name, source, off, event_ts, ${t.detail.name} FROM ${stage} q
     WHERE NOT EXISTS (SELECT 1 FROM ${s}.${t.table} e WHERE e.schema_name = q.schema_name AND e.source = q.source AND e."offset" = q.off)`);
}

/** The largest epoch ms a date holds (ECMAScript's limit). */
const MAX_TIME = 8.64e15;

/** The rows of `schema`'s events with from <= event time < to, by position. */
export async function readVerdicts(db: SqlDriver, s: string, t: VerdictTable, schema: string, from: number, to: number): Promise<{ source: string; offset: number; eventTime: number; detail: unknown }[]> {
  const rows = await db.query(
    `SELECT source, "offset", event_ts, ${t.detail.name} AS detail FROM ${s}.${t.table} WHERE schema_name = $1 AND event_ts >= $2 AND event_ts < $3 ORDER BY source, "offset"`,
    // Within what a BIGINT holds (an open end, +-Infinity, is every time there is).
    [schema, Math.floor(Math.max(from, -MAX_TIME)), Math.ceil(Math.min(to, MAX_TIME))]);
  return rows.map((r) => ({ source: String(r.source), offset: Number(r.offset), eventTime: Number(r.event_ts), detail: r.detail }));
}
