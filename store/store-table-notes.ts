/**
 * What each table and the row tables' columns hold, for whoever opens the store in psql (`\dt+`, `\d+`):
 * PostgreSQL keeps them as comments, set by the tables' owner when a writer opens the store.
 * docs/operations.md ("The store's tables") says the same at more length.
 */
import { sqlText, type SqlDriver } from './sql-driver.ts';
import type { STORE_TABLES } from './store-tables.ts';

export const TABLE_NOTES: Record<(typeof STORE_TABLES)[number], string> = {
  result_rows: 'Concord: each cell\'s current row per version (generation) of its day; the live version of a day is day_live.generation, else 0. For SQL clients the view live_results is simpler.',
  result_history: 'Concord: the rows result_rows replaced (earlier revisions of a cell of a version), same columns; with result_rows every revision ever written.',
  day_versions: 'Concord: the reconciled versions of each (pipeline, day): generation 1, 2, ...; status live, kept or pruned (version 0, the stream\'s, has no row here). created_at: epoch ms.',
  day_live: 'Concord: which version (generation) of a (pipeline, day) readers see; no row: the stream\'s, 0. switched_at: epoch ms.',
  switch_log: 'Concord: every switch of a day\'s live version, in order (seq): from previous to generation, reason reconcile or revert. at_ms: epoch ms.',
  changes: 'Concord: old -> new value of each cell a switch or backfill changed, in order (seq), for live readers; old_json/new_json null: no value. at_ms: epoch ms.',
  dirty_cells: 'Concord: cells late data or another run changed since the day\'s version was published, for backfill to recompute (consumed_by: the backfill that took it). recorded_at: epoch ms.',
  contradicted_cells: 'Concord: cells whose stream row another run over other input contradicted (reconcile names their differences other_run). recorded_at: epoch ms.',
  late_delta: 'Concord: rows that arrived for a sealed day, per (pipeline, day), held aside until a backfill.',
  late_events: 'Concord: the events the stream judged late, by source and offset, with the watermark they met (record_json), for reconcile\'s causes.',
  quarantined_events: 'Concord: where the stream quarantined events of an input schema for their time (source, offset; event_ts and reference: epoch ms): event_ts > reference too far ahead (reason future_timestamp), event_ts < reference too far behind (past_horizon), for reconcile\'s cause future_timestamp.',
  rejected_events: 'Concord: where the stream refused events of an input schema for a field (source, offset; event_ts: the event time, epoch ms; reason, cut to 200 characters), for reconcile\'s cause parse_reject once changed definitions (an alias) take them.',
  archive_checks: 'Concord: when backfill last looked at the archive for a (pipeline, day): files written after checked_through (epoch ms) are news.',
  pruned_days: 'Concord: (pipeline, day)s the retention deleted (concord prune), when (pruned_at, epoch ms) and how many rows.',
  watermarks: 'Concord: each pipeline\'s event-time watermark W (epoch ms) as the stream last reported it.',
  sink_offsets: 'Concord: per sink group, topic and partition, the offset after the last record a sink wrote into this store (in the same transaction): a group that committed past it finds the store older than its reads (a restored backup) and is refused.',
  input_ends: 'Concord: per pipeline, where the input of the bounded run (concord stream --input) that last wrote its stream rows ended (run, input_at), its W then and when (ended_at, epoch ms); any later stream write of the pipeline deletes it. The nightly reconcile does not wait for a stream whose input ended.',
  stream_reach: 'Concord: per pipeline and source (file:NAME), the offset after the last line the stream read (next_offset) and when (read_at, epoch ms), written with the rows decided up to there. Reconcile names archived events at or past it archive_added (appended after the stream read the file).',
  stream_starts: 'Concord: per pipeline, the first watermark W the store held of its stream (epoch ms) and when it was written (written_at, epoch ms); never changed. reconcile --date reads it to tell a day the stream read but kept no row of from a day before the pipeline was streamed.',
  reconciliations: 'Concord: each reconciliation of a (pipeline, day) under a job id (a later run under the id of a published one: "<job id> at <time>"): status (published, unchanged, failed_unexplained), the version it published or found live (generation), the full report (report_json). at_ms: epoch ms.',
};

/** The columns of result_rows and result_history that their names do not explain. */
export const ROW_COLUMN_NOTES: Record<string, string> = {
  generation: 'the day\'s version: 0 the stream\'s, 1, 2, ... each reconciliation\'s',
  window_start: 'epoch ms; a rule\'s alert: its time',
  window_end: 'epoch ms; null for an alert',
  cell: 'the key as a JSON array (an alert: key and event id): one cell per (pipeline, generation, window_start)',
  day: 'the UTC day (YYYY-MM-DD) of window_start',
  kind: 'window or alert',
  key_json: 'the key as a JSON object',
  values_json: 'the aggregates (an alert: its output) as a JSON object',
  revision: 'the stream\'s revision of the cell: 0 when its window first fired, +1 per late update',
  provenance: 'realtime, late-update, reconciled or backfill',
  watermark: 'epoch ms as text: the watermark when the stream emitted the row (inf: the last flush of a bounded run, W +infinity; the API says +infinity); null for a reconciled or backfilled one',
  definition_version: 'the hash of the pipeline definition (with B and L) that computed the row',
  written_at: 'epoch ms: when the row was written to the store',
  job_id: 'the reconcile or backfill job that wrote the row; null for the stream\'s',
};

/**
 * Sets the notes that differ from what the catalog holds. PostgreSQL: on the tables and the view this role
 * owns (COMMENT needs ownership; another role's writer leaves them). Embedded DuckDB keeps them too
 * (`duckdb_tables()`, `duckdb_columns()`, a BI tool's column list; before 2026-12-07 only PostgreSQL had
 * them), and loses the view's with each CREATE OR REPLACE of it. One query when nothing differs.
 */
export async function commentStoreTables(tx: SqlDriver, s: string): Promise<void> {
  const have = await tx.query(tx.backend === 'postgres' ? PG_NOTES : DUCKDB_NOTES, [s]);
  const held = new Map(have.map((r) => [`${String(r.t)}.${r.col === null ? '' : String(r.col)}`, r.note === null ? null : String(r.note)]));
  const want: [string, string, string][] = [];
  for (const [t, note] of Object.entries(TABLE_NOTES)) want.push([`${t}.`, `TABLE ${s}.${t}`, note]);
  for (const t of ['result_rows', 'result_history']) {
    for (const [col, note] of Object.entries(ROW_COLUMN_NOTES)) want.push([`${t}.${col}`, `COLUMN ${s}.${t}.${col}`, note]);
  }
  want.push(['live_results.', `VIEW ${s}.live_results`, LIVE_RESULTS_NOTE]);
  for (const [col, note] of Object.entries(LIVE_RESULTS_COLUMN_NOTES)) want.push([`live_results.${col}`, `COLUMN ${s}.live_results.${col === 'values' ? '"values"' : col}`, note]);
  // An object not owned here is not in `held` (nor one not there yet): left alone.
  for (const [at, what, note] of want) if (held.has(at) && held.get(at) !== note) await tx.query(`COMMENT ON ${what} IS ${sqlText(note)}`);
}

/** Rows (t, col, note) of what the notes are set on: a relation's own note has col null. */
const PG_NOTES = `SELECT c.relname AS t, NULL AS col, obj_description(c.oid, 'pg_class') AS note
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v') AND pg_has_role(c.relowner, 'USAGE')
    UNION ALL SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = $1 AND c.relname IN ('result_rows', 'result_history', 'live_results') AND pg_has_role(c.relowner, 'USAGE')`;
const DUCKDB_NOTES = `SELECT table_name AS t, NULL AS col, comment AS note FROM duckdb_tables() WHERE schema_name = $1
    UNION ALL SELECT view_name, NULL, comment FROM duckdb_views() WHERE schema_name = $1
    UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = $1 AND table_name IN ('result_rows', 'result_history', 'live_results')`;

/**
 * The view's columns, for a BI tool's or psql's column list (`\d+`): before 2026-12-07 the view readers are
 * pointed to was the one object without a word on its columns (which times are instants, which epoch ms).
 */
export const LIVE_RESULTS_COLUMN_NOTES: Record<string, string> = {
  day: 'the UTC day (YYYY-MM-DD) of window_start',
  kind: 'window, or alert (a rule\'s: window_start is its time, window_end null)',
  window_start: 'the window\'s start (an alert: its time), an instant (timestamptz); the API\'s window_start',
  window_end: 'the window\'s end, exclusive (null for an alert)',
  window_start_ms: 'window_start as epoch ms: filter time ranges on it (indexed)',
  key: 'the key as a JSON object ({} for a pipeline without key)',
  values: 'the aggregates (an alert: its output) as a JSON object; approx_distinct values are the HyperLogLog estimate rounded to an integer',
  revision: 'the stream\'s revision of the cell: 0 when its window first fired, +1 per late update',
  provenance: 'realtime or late-update (the stream\'s, provisional), reconciled or backfill',
  generation: 'the day\'s version these numbers are: 0 the stream\'s, 1, 2, ... a reconciliation\'s (the day\'s live one)',
  definition_version: 'the hash of the pipeline definition (with B and L) that computed the row',
};

export const LIVE_RESULTS_NOTE = 'Concord: each day\'s live version as the API shows it, times as timestamps, key and values as JSON; filter ranges on window_start_ms (indexed).';
