import { checkMayCreate, checkWriterPrivileges, pgStoreObjects } from './pg-privileges.ts';
import { QUARANTINED_EVENTS_DDL } from './quarantine-records.ts';
import { REJECTED_EVENTS_DDL } from './rejection-records.ts';
import { SINK_OFFSETS_DDL } from './sink-offsets.ts';
import { INPUT_ENDS_DDL } from './input-ends.ts';
import { STREAM_REACH_DDL } from './stream-reach.ts';
import { STREAM_STARTS_DDL } from './stream-starts.ts';
import type { SqlDriver } from './sql-driver.ts';
import { commentStoreTables } from './store-table-notes.ts';

/** The store's tables, as every writer and reader of it names them. */
export const STORE_TABLES = ['result_rows', 'result_history', 'day_versions', 'day_live', 'switch_log', 'changes', 'dirty_cells',
  'contradicted_cells', 'late_delta', 'late_events', 'quarantined_events', 'rejected_events', 'archive_checks', 'pruned_days', 'watermarks', 'reconciliations', 'sink_offsets', 'input_ends', 'stream_reach', 'stream_starts'] as const;

/**
 * The tables only writers read (reconcile's evidence, backfill's last look at the archive): a reader's
 * role is not checked on them, so a release that adds one leaves `serve` and `report` running under a
 * role granted SELECT before it (the first writer of 2026-12-06 added quarantined_events, and readers
 * were refused at start until the GRANT was run again).
 */
const WRITER_ONLY_TABLES: ReadonlySet<string> = new Set(['quarantined_events', 'rejected_events', 'archive_checks', 'sink_offsets', 'input_ends', 'stream_reach', 'stream_starts']);

/** The tables `serve` and `report` read (store/store-snapshot.ts, store/store-reads.ts). */
export const READER_TABLES = STORE_TABLES.filter((t) => !WRITER_ONLY_TABLES.has(t));

/**
 * The store's tables in `schema`, created if missing (idempotent, serialised: two processes creating
 * them at once may race on PostgreSQL's catalog). On PostgreSQL only what is missing is created
 * (`CREATE ... IF NOT EXISTS` asks for CREATE on the database or schema even when the object is there,
 * so a writer's role with only the privileges to write refused to start), and the role is checked for
 * those privileges (pg-privileges.ts). Returns whether `result_rows` and `result_history` have
 * no primary key (embedded DuckDB stores created since issue 12; older ones keep their keys and the
 * keyed statements).
 */
export async function createStoreTables(db: SqlDriver, s: string): Promise<{ keyless: boolean }> {
  const rowCols = `pipeline TEXT NOT NULL, generation INTEGER NOT NULL, window_start BIGINT NOT NULL, cell TEXT NOT NULL,
    day TEXT NOT NULL, kind TEXT NOT NULL, window_end BIGINT, key_json TEXT NOT NULL, values_json TEXT NOT NULL,
    revision INTEGER NOT NULL, provenance TEXT NOT NULL, watermark TEXT, definition_version TEXT NOT NULL,
    written_at BIGINT NOT NULL, job_id TEXT`;
  // Embedded DuckDB: the two big tables without a primary key. A DuckDB file has one writing process,
  // so the store knows which cells it holds (LiveIndex) and writes plain inserts and updates; the ART
  // index behind a key made every live flush an upsert (measured: 2,700 rows per flush, p50 49 ms keyed
  // with ON CONFLICT, 28 ms keyless). PostgreSQL has several writers and keeps its keys.
  const duck = db.backend === 'duckdb';
  const ddl: [name: string, sql: string][] = [
    ['', `CREATE SCHEMA IF NOT EXISTS ${s}`],
    ['change_seq', `CREATE SEQUENCE IF NOT EXISTS ${s}.change_seq`],
    ['result_rows', `CREATE TABLE IF NOT EXISTS ${s}.result_rows (${rowCols}${duck ? '' : ', PRIMARY KEY (pipeline, generation, window_start, cell)'})`],
    ['result_history', `CREATE TABLE IF NOT EXISTS ${s}.result_history (${rowCols}${duck ? '' : ', PRIMARY KEY (pipeline, generation, window_start, cell, revision)'})`],
    ['day_versions', `CREATE TABLE IF NOT EXISTS ${s}.day_versions (pipeline TEXT NOT NULL, day TEXT NOT NULL, generation INTEGER NOT NULL,
      status TEXT NOT NULL, job_id TEXT, created_at BIGINT NOT NULL, PRIMARY KEY (pipeline, day, generation))`],
    ['day_live', `CREATE TABLE IF NOT EXISTS ${s}.day_live (pipeline TEXT NOT NULL, day TEXT NOT NULL, generation INTEGER NOT NULL,
      switched_at BIGINT NOT NULL, PRIMARY KEY (pipeline, day))`],
    ['switch_log', `CREATE TABLE IF NOT EXISTS ${s}.switch_log (seq BIGINT PRIMARY KEY, pipeline TEXT NOT NULL, day TEXT NOT NULL,
      generation INTEGER NOT NULL, previous INTEGER NOT NULL, reason TEXT NOT NULL, at_ms BIGINT NOT NULL)`],
    ['changes', `CREATE TABLE IF NOT EXISTS ${s}.changes (seq BIGINT PRIMARY KEY, pipeline TEXT NOT NULL, day TEXT NOT NULL,
      window_start BIGINT NOT NULL, cell TEXT NOT NULL, key_json TEXT NOT NULL, old_json TEXT, new_json TEXT,
      provenance TEXT NOT NULL, generation INTEGER NOT NULL, at_ms BIGINT NOT NULL)`],
    ['dirty_cells', `CREATE TABLE IF NOT EXISTS ${s}.dirty_cells (pipeline TEXT NOT NULL, day TEXT NOT NULL, window_start BIGINT NOT NULL,
      cell TEXT NOT NULL, key_json TEXT NOT NULL, reason TEXT NOT NULL, recorded_at BIGINT NOT NULL, consumed_by TEXT,
      PRIMARY KEY (pipeline, window_start, cell))`],
    // Cells whose stream rows another run contradicted (reconcile's `other_run`); a fact about generation 0,
    // kept when the dirty cell is backfilled or a reconcile publishes the day.
    ['contradicted_cells', `CREATE TABLE IF NOT EXISTS ${s}.contradicted_cells (pipeline TEXT NOT NULL, day TEXT NOT NULL, window_start BIGINT NOT NULL,
      cell TEXT NOT NULL, key_json TEXT NOT NULL, recorded_at BIGINT NOT NULL, PRIMARY KEY (pipeline, window_start, cell))`],
    ['late_delta', `CREATE TABLE IF NOT EXISTS ${s}.late_delta (pipeline TEXT NOT NULL, day TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (pipeline, day))`],
    ['late_events', `CREATE TABLE IF NOT EXISTS ${s}.late_events (pipeline TEXT NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL,
      "offset" BIGINT NOT NULL, record_json TEXT NOT NULL, PRIMARY KEY (pipeline, source, "offset"))`],
    // The stream's time-quarantine verdicts (quarantine-records.ts); a store created before gets the table
    // from its next writer, empty: reconcile then has no such evidence of the days written before.
    ['quarantined_events', QUARANTINED_EVENTS_DDL(s)],
    // The stream's refusals for a field (rejection-records.ts), added 2026-12-07 the same way: empty in a
    // store created before, so reconcile has no such evidence of the days streamed before.
    ['rejected_events', REJECTED_EVENTS_DDL(s)],
    ['archive_checks', `CREATE TABLE IF NOT EXISTS ${s}.archive_checks (pipeline TEXT NOT NULL, day TEXT NOT NULL, checked_through BIGINT NOT NULL, PRIMARY KEY (pipeline, day))`],
    // Days the retention deleted (store/store-retention.ts): readers answer "pruned", not an empty day.
    ['pruned_days', `CREATE TABLE IF NOT EXISTS ${s}.pruned_days (pipeline TEXT NOT NULL, day TEXT NOT NULL, pruned_at BIGINT NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY (pipeline, day))`],
    ['watermarks', `CREATE TABLE IF NOT EXISTS ${s}.watermarks (pipeline TEXT PRIMARY KEY, watermark DOUBLE PRECISION NOT NULL)`],
    ['reconciliations', `CREATE TABLE IF NOT EXISTS ${s}.reconciliations (pipeline TEXT NOT NULL, day TEXT NOT NULL, job_id TEXT NOT NULL,
      status TEXT NOT NULL, generation INTEGER, report_json TEXT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (pipeline, day, job_id))`],
    // How far each sink group's reads are in this store (sink-offsets.ts); a store created before gets it empty.
    ['sink_offsets', SINK_OFFSETS_DDL(s)],
    // Where a bounded run's input ended (input-ends.ts); a store created before gets it empty: its nightly reconciles wait as before.
    ['input_ends', INPUT_ENDS_DDL(s)],
    // How far the stream read each source (stream-reach.ts); a store created before gets it empty from its next
    // writer: reconcile knows the reach of the runs after it only.
    ['stream_reach', STREAM_REACH_DDL(s)],
    // Each pipeline's first W (stream-starts.ts); a store created before gets it empty: its pipelines' starts are their first days with rows, as before.
    ['stream_starts', STREAM_STARTS_DDL(s)],
  ];
  let keyless = false;
  await db.transaction(async (tx) => {
    const pg = db.backend === 'postgres' ? await pgStoreObjects(tx, s) : undefined;
    const missing = pg === undefined ? ddl : ddl.filter(([name]) => (name === '' ? !pg.schema : !pg.relations.has(name)));
    const view = pg?.relations.get('live_results');
    if (pg !== undefined) {
      const names = missing.map(([name]) => (name === '' ? `schema ${s}` : name));
      await checkMayCreate(tx, s, pg, view === undefined ? [...names, 'live_results'] : names);
    }
    for (const [, sql] of missing) await tx.query(sql);
    if (pg !== undefined) await checkWriterPrivileges(tx, s, STORE_TABLES, 'change_seq');
    // PostgreSQL replaces a view for its owner only: a store written by several roles (a sink's, the job
    // workers') keeps the view the first one made, else every other role's writer failed to start on
    // "must be owner of view live_results" (the tables never asked for ownership).
    if (view === undefined || (view.mine && (pg === undefined || (await pgViewDiffers(tx, s))))) await tx.query(liveResultsView(s));
    // PostgreSQL: room on each page of result_rows for the new version of an updated row, so an upsert
    // (late updates, backfill) is a HOT update that leaves the primary key index alone (measured: 100,800
    // upserts 1.5-1.7 s at 75 against 2.0-2.5 s at the default 100). Set once; pages written from then on.
    if (db.backend === 'postgres') {
      // Only its owner may: another role's writer leaves it to the owner (a setting for speed, not for what is written).
      const [t] = await tx.query(`SELECT reloptions::TEXT AS o, pg_has_role(relowner, 'USAGE') AS mine FROM pg_class WHERE oid = '${s}.result_rows'::regclass`);
      if (!String(t?.o ?? '').includes('fillfactor=75') && t?.mine === true) await tx.query(`ALTER TABLE ${s}.result_rows SET (fillfactor = 75)`);
    }
    await commentStoreTables(tx, s);
    if (duck) {
      // A store created before keeps its keys and the keyed statements.
      const keys = await tx.query(`SELECT count(*) AS n FROM duckdb_constraints() WHERE schema_name = $1 AND table_name IN ('result_rows', 'result_history') AND constraint_type = 'PRIMARY KEY'`, [s]);
      keyless = Number(keys[0]?.n ?? 0) === 0;
    }
  });
  return { keyless };
}

/**
 * `live_results`: the numbers as the API's live version shows them, for SQL clients (Grafana's PostgreSQL
 * data source, BI tools, psql): each day's live version (the reconciled one once a day switched, the
 * stream's before), times as timestamps, key and values as JSON. `window_start_ms` is the indexed column
 * to filter ranges on. Replaced on every writer's start, so a store created before gets it too (on
 * PostgreSQL by a role that owns it, or made by the first writer when missing).
 */
function liveResultsView(s: string, name = `${s}.live_results`): string {
  return `CREATE OR REPLACE VIEW ${name} AS
    SELECT r.pipeline, r.day, r.kind, to_timestamp(r.window_start / 1000.0) AS window_start, to_timestamp(r.window_end / 1000.0) AS window_end,
      r.window_start AS window_start_ms, CAST(r.key_json AS JSON) AS key, CAST(r.values_json AS JSON) AS "values", r.revision, r.provenance,
      r.generation, r.definition_version
    FROM ${s}.result_rows r LEFT JOIN ${s}.day_live d ON d.pipeline = r.pipeline AND d.day = r.day
    WHERE r.generation = coalesce(d.generation, 0)`;
}

/**
 * Whether the PostgreSQL view `live_results` differs from this release's. Replacing it takes an ACCESS
 * EXCLUSIVE lock on the view, which waits for every open transaction that read it: a BI tool or psql
 * session left idle in a read transaction (autocommit off) held up every writer's start (reconcile,
 * revert, stream, sink, a job worker: found 2026-12-07), and every later reader of the view queued behind
 * the waiting writer. The wanted definition is made as a temporary view and the two compared as the
 * catalog prints them, so the view is replaced only by the release that changes it.
 */
async function pgViewDiffers(tx: SqlDriver, s: string): Promise<boolean> {
  const probe = 'pg_temp.concord_live_results_wanted';
  await tx.query(liveResultsView(s, probe));
  const [r] = await tx.query(`SELECT pg_get_viewdef('${probe}'::regclass) = pg_get_viewdef('${s}.live_results'::regclass) AS same`);
  await tx.query(`DROP VIEW ${probe}`);
  return r?.same !== true;
}

/**
 * Every stored version of every cell: the replaced ones (history, `replaced` 1) and the current ones
 * (`replaced` 0; bulk-write.ts keepReplaced). At one revision the current row comes first: the history
 * may also hold a sealed day's stream row that was never shown at that revision.
 */
export function everyVersion(schema: string): string {
  return `SELECT *, 1 AS replaced FROM ${schema}.result_history UNION ALL SELECT *, 0 AS replaced FROM ${schema}.result_rows`;
}
