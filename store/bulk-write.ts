import type { KeyValues } from '../schemas/results.ts';
import type { StoredRow } from './rows.ts';
import type { SqlDriver, SqlValue, StageColumn } from './sql-driver.ts';

/**
 * The store's bulk write path, shared by every write (live rows, late events, backfill, publish): rows
 * go into a staging table through the backend's bulk path (DuckDB: appender; PostgreSQL: one
 * `COPY ... FROM STDIN` into a temporary table, store/pg-stage.ts), then each step is one set-based
 * statement over the staged rows. No statement per row, no multi-row VALUES (DuckDB parses those at
 * ~0.4 ms a row).
 */

export const COLUMNS = ['pipeline', 'generation', 'window_start', 'cell', 'day', 'kind', 'window_end', 'key_json', 'values_json', 'revision', 'provenance', 'watermark', 'definition_version', 'written_at', 'job_id'];
const KEY = ['pipeline', 'generation', 'window_start', 'cell'];

const ROW_COLUMNS: StageColumn[] = COLUMNS.map((name) => ({
  name, type: ['generation', 'revision'].includes(name) ? 'INTEGER' : ['window_start', 'window_end', 'written_at'].includes(name) ? 'BIGINT' : 'TEXT',
}));

/**
 * Staged rows carry what the write decides per row, so one statement can act on a whole batch:
 * `hold` (null, or why the row's day no longer shows generation 0: 'sealed_day' | 'late_after_reconcile'),
 * `visible` (1: upsert into the row's generation), the dirty cell it would mark (`dirty_ws`, `dirty_cell`)
 * and `news` (set by the store: 1 when the row tells something not stored yet).
 */
const STAGE_ROW_COLUMNS: StageColumn[] = [...ROW_COLUMNS,
  { name: 'hold', type: 'TEXT' }, { name: 'visible', type: 'INTEGER' }, { name: 'dirty_ws', type: 'BIGINT' }, { name: 'dirty_cell', type: 'TEXT' }, { name: 'news', type: 'INTEGER' }];

export interface StagedRow {
  row: StoredRow;
  hold?: 'sealed_day' | 'late_after_reconcile' | null;
  visible?: boolean;
  dirtyWs?: number;
  dirtyCell?: string;
}

/** W as stored (text: +-infinity are 'inf' and '-inf'). */
export function watermarkText(w: number | null): string | null {
  return w === null ? null : w === Number.POSITIVE_INFINITY ? 'inf' : w === Number.NEGATIVE_INFINITY ? '-inf' : String(w);
}

export function rowParams(r: StoredRow): SqlValue[] {
  return [r.pipeline, r.generation, r.windowStart, r.cell, r.day, r.kind, r.windowEnd, JSON.stringify(r.key), JSON.stringify(r.values), r.revision, r.provenance, watermarkText(r.watermark), r.definitionVersion, r.writtenAt, r.jobId];
}

/** Stages `rows` (replacing what was staged before in this transaction); returns the staging table's name. */
export async function stageRows(tx: SqlDriver, schema: string, rows: readonly StagedRow[]): Promise<string> {
  return tx.stage(schema, 'stage_rows', STAGE_ROW_COLUMNS, rows.map((s) => [...rowParams(s.row),
    s.hold ?? null, s.visible === false ? 0 : 1, s.dirtyWs ?? s.row.windowStart, s.dirtyCell ?? s.row.cell, 0]));
}

/** The stored row's columns, in order. */
export const cols = COLUMNS.join(', ');
/** The stored row's columns of `alias`, in order. */
export const staged = (alias: string) => COLUMNS.map((c) => `${alias}.${c}`).join(', ');
const matches = (a: string, b: string) => KEY.map((c) => `${a}.${c} = ${b}.${c}`).join(' AND ');

/**
 * The history holds the versions of a cell that were replaced (as SQL:2011 system-versioned tables keep
 * theirs), and stream rows that never became visible (a sealed day's): the current version lives in
 * `result_rows` only, so a new cell is written once, not twice. `result_history` plus `result_rows` hold
 * every revision written; stores written before this layout also hold the current ones in the history,
 * and readers take one row per revision of the union.
 *
 * This keeps the stored rows that the staged visible rows are about to replace (a higher revision);
 * call it before `upsertRows`. `keyless`: the table has no primary key (embedded DuckDB stores, see
 * `SqlResultStore.init`); a keyed one may hold the version already (the earlier layout).
 */
export async function keepReplaced(tx: SqlDriver, schema: string, stage: string, options: { keyless?: boolean } = {}): Promise<void> {
  await tx.execute(
    `INSERT INTO ${schema}.result_history (${cols}) SELECT ${staged('r')} FROM ${schema}.result_rows r JOIN ${stage} s ON ${matches('r', 's')}
     WHERE s.visible = 1 AND s.revision > r.revision ${options.keyless ? '' : 'ON CONFLICT (pipeline, generation, window_start, cell, revision) DO NOTHING'}`);
}

/** The staged rows not made visible (a sealed day's stream rows) into the history, unless that revision is stored. */
export async function keepUnseen(tx: SqlDriver, schema: string, stage: string): Promise<void> {
  await tx.execute(
    `INSERT INTO ${schema}.result_history (${cols}) SELECT ${staged('s')} FROM ${stage} s WHERE s.visible = 0
     AND NOT EXISTS (SELECT 1 FROM ${schema}.result_history h WHERE ${matches('h', 's')} AND h.revision = s.revision)
     AND NOT EXISTS (SELECT 1 FROM ${schema}.result_rows r WHERE ${matches('r', 's')} AND r.revision = s.revision)`);
}

/**
 * Guarded upsert of the staged rows marked visible: only a higher revision replaces a stored row. Returns
 * the rows applied. `keyless`: an update of the stored cells, then an insert of the others.
 */
export async function upsertRows(tx: SqlDriver, schema: string, stage: string, options: { keyless?: boolean } = {}): Promise<number> {
  const values = COLUMNS.filter((c) => !KEY.includes(c));
  if (options.keyless) {
    const t = `${schema}.result_rows`;
    const updated = await tx.execute(
      `UPDATE ${t} SET ${values.map((c) => `${c} = s.${c}`).join(', ')} FROM ${stage} s
       WHERE s.visible = 1 AND ${KEY.map((c) => `${t}.${c} = s.${c}`).join(' AND ')} AND s.revision > ${t}.revision`);
    const inserted = await tx.execute(
      `INSERT INTO ${t} (${cols}) SELECT ${staged('s')} FROM ${stage} s
       WHERE s.visible = 1 AND NOT EXISTS (SELECT 1 FROM ${t} r WHERE ${matches('r', 's')})`);
    return updated + inserted;
  }
  return tx.execute(
    `INSERT INTO ${schema}.result_rows (${cols}) SELECT ${staged('s')} FROM ${stage} s WHERE s.visible = 1
     ON CONFLICT (pipeline, generation, window_start, cell) DO UPDATE SET ${values.map((c) => `${c} = excluded.${c}`).join(', ')}
     WHERE excluded.revision > ${schema}.result_rows.revision`);
}

/**
 * Marks `news` on the staged held rows that tell something new: a revision not stored (history or
 * current row) whose values differ from the stream's stored row (or a cell the stream had no row for). A replayed
 * row, or a new revision with the same values, changes no cell and dirties nothing.
 */
export async function markNews(tx: SqlDriver, schema: string, stage: string): Promise<void> {
  // Inner joins (UPDATE ... FROM), not NOT EXISTS: the staged batch is the join's build side and the
  // big tables are only scanned (an anti-join would hash the whole history for every batch).
  await tx.query(`UPDATE ${stage} SET news = CASE WHEN hold IS NULL THEN 0 ELSE 1 END`);
  await tx.query(
    `UPDATE ${stage} SET news = 0 FROM ${schema}.result_history h
     WHERE ${stage}.news = 1 AND ${matches('h', stage)} AND h.revision = ${stage}.revision`);
  await tx.query(
    `UPDATE ${stage} SET news = 0 FROM ${schema}.result_rows r
     WHERE ${stage}.news = 1 AND ${matches('r', stage)} AND (r.values_json = ${stage}.values_json OR r.revision = ${stage}.revision)`);
}

/**
 * Marks `news` on the staged stream rows that another run contradicts: generation 0 holds the cell at
 * the same revision (now, or replaced, in the history) with other values. One run never writes a
 * revision twice with other values (a rerun or a replayed topic writes the same ones); a run over other
 * input of the same windows (a day's second file) does, and the revision guard would drop its rows as
 * replays. A run of another definition version (the definition changed) contradicts a stored row at any
 * revision: its higher revision would otherwise replace the other definition's row (`dropOtherDefinition`
 * keeps it out). Returns how many rows are marked.
 */
export async function markConflicting(tx: SqlDriver, schema: string, stage: string): Promise<number> {
  await tx.query(`UPDATE ${stage} SET news = 0`);
  let n = 0;
  const contradicts = `t.revision = ${stage}.revision AND t.values_json <> ${stage}.values_json`;
  // The current row also when another definition's (one statement per table: this runs on every flush).
  const otherDefinition = `t.revision < ${stage}.revision AND t.definition_version <> ${stage}.definition_version`;
  for (const [table, when] of [['result_rows', `((${contradicts}) OR (${otherDefinition}))`], ['result_history', contradicts]] as const) {
    n += await tx.execute(
      `UPDATE ${stage} SET news = 1 FROM ${schema}.${table} t
       WHERE ${stage}.news = 0 AND ${matches('t', stage)} AND ${when}`);
  }
  return n;
}

/**
 * Removes from the stage the stream rows that would replace (a higher revision) a stored row of another
 * definition version: a day's version 0 never mixes two definitions in one cell (the changed definition's
 * cells are recomputed by `backfill --from D --to D`). Returns them as `pipeline \0 window_start \0 cell`.
 */
export async function dropOtherDefinition(tx: SqlDriver, schema: string, stage: string): Promise<Set<string>> {
  const found = await tx.query(
    `SELECT s.pipeline, s.window_start, s.cell FROM ${stage} s JOIN ${schema}.result_rows t ON ${matches('t', 's')}
     WHERE t.revision < s.revision AND t.definition_version <> s.definition_version`);
  if (found.length === 0) return new Set();
  await tx.execute(
    `DELETE FROM ${stage} WHERE EXISTS (SELECT 1 FROM ${schema}.result_rows t
       WHERE ${matches('t', stage)} AND t.revision < ${stage}.revision AND t.definition_version <> ${stage}.definition_version)`);
  return new Set(found.map((f) => `${String(f.pipeline)}\u0000${Number(f.window_start)}\u0000${String(f.cell)}`));
}

const CELL_VALUE_COLUMNS: StageColumn[] = [{ name: 'pipeline', type: 'TEXT' }, { name: 'window_start', type: 'BIGINT' }, { name: 'cell', type: 'TEXT' }, { name: 'values_json', type: 'TEXT' }, { name: 'ord', type: 'BIGINT' }];

/**
 * Of `rows` (one generation's cells with new values), those whose values differ from the stored row of
 * the cell in `generation`, or whose cell has no stored row, with what is stored (null: nothing). One
 * join over the staged keys and values: rows that change nothing never come back to JavaScript. Values
 * compare as their JSON text, which the store always writes with JSON.stringify (rowParams).
 */
export async function changedRowsOf<R extends { windowStart: number; cell: string; values: Record<string, unknown> }>(tx: SqlDriver, schema: string, pipeline: string, generation: number, rows: readonly R[]): Promise<{ row: R; old: { revision: number; values: Record<string, unknown> } | null }[]> {
  if (rows.length === 0) return [];
  const stage = await tx.stage(schema, 'stage_cell_values', CELL_VALUE_COLUMNS, rows.map((r, i) => [pipeline, r.windowStart, r.cell, JSON.stringify(r.values), i]));
  const found = await tx.query(
    `SELECT s.ord, r.revision, r.values_json FROM ${stage} s LEFT JOIN ${schema}.result_rows r
       ON r.pipeline = s.pipeline AND r.generation = $1::INTEGER AND r.window_start = s.window_start AND r.cell = s.cell
     WHERE r.cell IS NULL OR r.values_json <> s.values_json ORDER BY s.ord`, [generation]);
  return found.map((f) => ({
    row: rows[Number(f.ord)]!,
    old: f.values_json === null || f.values_json === undefined ? null : { revision: Number(f.revision), values: JSON.parse(String(f.values_json)) as Record<string, unknown> },
  }));
}

export interface ChangeToRecord {
  cell: { pipeline: string; day: string; windowStart: number; cell: string; key: KeyValues };
  old: Record<string, unknown> | null;
  next: Record<string, unknown> | null;
}

const CHANGE_COLUMNS: StageColumn[] = [
  { name: 'ord', type: 'BIGINT' }, { name: 'pipeline', type: 'TEXT' }, { name: 'day', type: 'TEXT' }, { name: 'window_start', type: 'BIGINT' },
  { name: 'cell', type: 'TEXT' }, { name: 'key_json', type: 'TEXT' }, { name: 'old_json', type: 'TEXT' }, { name: 'new_json', type: 'TEXT' }];

/**
 * Publishes old -> new changes in the given order: a block of sequence numbers is reserved in one
 * statement (writers are serialised, so the block is contiguous) and the changes go in with one insert.
 */
export async function recordChanges(tx: SqlDriver, schema: string, list: readonly ChangeToRecord[], provenance: string, generation: number, at: number): Promise<void> {
  if (list.length === 0) return;
  const last = Number((await tx.query(`SELECT max(nextval('${schema}.change_seq')) AS last FROM generate_series(1, $1::BIGINT)`, [list.length]))[0]!.last);
  const first = last - list.length + 1;
  const stage = await tx.stage(schema, 'stage_changes', CHANGE_COLUMNS, list.map(({ cell, old, next }, i) => [i, cell.pipeline, cell.day, cell.windowStart, cell.cell,
    JSON.stringify(cell.key), old === null ? null : JSON.stringify(old), next === null ? null : JSON.stringify(next)]));
  await tx.query(
    `INSERT INTO ${schema}.changes (seq, pipeline, day, window_start, cell, key_json, old_json, new_json, provenance, generation, at_ms)
     SELECT $1::BIGINT + ord, pipeline, day, window_start, cell, key_json, old_json, new_json, $2::TEXT, $3::INTEGER, $4::BIGINT FROM ${stage}`, [first, provenance, generation, at]);
}
