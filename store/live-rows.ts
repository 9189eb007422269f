import type { ResultRecord } from '../schemas/results.ts';
import { cols, staged, watermarkText } from './bulk-write.ts';
import { revisionOf, rowStartOf, storedValues, streamProvenance } from './rows.ts';
import { sqlText, type SqlDriver, type SqlValue, type StageColumn } from './sql-driver.ts';

/** A stream row for the live path: the record, its cell and day, `fresh` when the cell has no stored row. */
export interface LiveRow {
  record: ResultRecord;
  cell: string;
  day: string;
  fresh: boolean;
}

/** A live row staged: its window (an index into the staged windows), then its own fields. */
const LIVE_COLUMNS: StageColumn[] = [
  { name: 'w', type: 'INTEGER' }, { name: 'cell', type: 'TEXT' }, { name: 'key_json', type: 'TEXT' }, { name: 'values_json', type: 'TEXT' },
  { name: 'revision', type: 'INTEGER' }, { name: 'provenance', type: 'TEXT' }, { name: 'watermark', type: 'TEXT' }, { name: 'fresh', type: 'INTEGER' }];

/** What a window's rows share, staged once per window. */
const WINDOW_COLUMNS: StageColumn[] = [
  { name: 'w', type: 'INTEGER' }, { name: 'pipeline', type: 'TEXT' }, { name: 'window_start', type: 'BIGINT' }, { name: 'day', type: 'TEXT' },
  { name: 'kind', type: 'TEXT' }, { name: 'window_end', type: 'BIGINT' }, { name: 'definition_version', type: 'TEXT' }];

/**
 * `rows` as staged rows (LIVE_COLUMNS), their windows noted in `windows` (one staged row each). A
 * window's rows come in one run: its shared fields are looked up once per run and written once per
 * window, not per row, and W is formatted once per distinct value (measured in session 14, 4,500 rows
 * packed one text per row: split and insert 7.6 ms against 10.2 with every field per row).
 */
function* liveStageRows(rows: Iterable<LiveRow>, windows: SqlValue[][]): Generator<SqlValue[]> {
  const index = new Map<string, number>();
  let pipeline: string | undefined;
  let start = Number.NaN;
  let version: string | undefined;
  let n = 0;
  let w: number | null | undefined;
  let wText: string | null = null;
  for (const { record: r, cell, day, fresh } of rows) {
    const at = rowStartOf(r);
    if (r.pipeline !== pipeline || at !== start || r.definitionVersion !== version) {
      ({ pipeline, definitionVersion: version } = r);
      start = at;
      const id = `${r.pipeline}\u0000${at}\u0000${r.definitionVersion}`;
      let known = index.get(id);
      if (known === undefined) {
        index.set(id, (known = windows.length));
        windows.push([known, r.pipeline, at, day, r.kind, r.kind === 'window' ? r.windowEnd : null, r.definitionVersion]);
      }
      n = known;
    }
    if (r.watermark !== w) {
      w = r.watermark;
      wText = watermarkText(w) ?? null;
    }
    const values = r.kind === 'window' ? JSON.stringify(r.values) : JSON.stringify(storedValues(r));
    yield [n, cell, JSON.stringify(r.key), values, revisionOf(r), streamProvenance(r), wText, fresh ? 1 : 0];
  }
}

/**
 * The live path of the sole writer (embedded DuckDB, store/live-index.ts): stream rows (generation 0),
 * each at a revision above the stored one, `fresh` when the cell has no stored row (`counts` says how
 * many of each). No lookups and no conflict handling: `result_rows` gets an insert of the fresh cells
 * and an update of the others, whose replaced versions go to the history (as `keepReplaced`). `rows` is
 * read lazily: the stage packs them a chunk at a time (store/duckdb-stage.ts), so a large batch is never
 * all in memory as staged rows.
 */
export async function writeLiveRows(tx: SqlDriver, schema: string, rows: Iterable<LiveRow>, counts: { fresh: number; updated: number }, writtenAt: number): Promise<void> {
  if (counts.fresh + counts.updated === 0) return;
  const windows: SqlValue[][] = [];
  // Read where used (the statements below), not split into a staging table first.
  const stage = await (tx.stageRelation ?? tx.stage).call(tx, schema, 'stage_live', LIVE_COLUMNS, liveStageRows(rows, windows));
  const windowsOf = await windowSource(tx, schema, windows);
  const at = Math.trunc(writtenAt);
  const rowsOf = `(SELECT w.pipeline, w.window_start, w.day, w.kind, w.window_end, w.definition_version, x.cell, x.key_json, x.values_json, x.revision,
      x.provenance, x.watermark, x.fresh
    FROM ${stage} x JOIN ${windowsOf} ON w.w = x.w)`;
  const values = `pipeline, 0, window_start, cell, day, kind, window_end, key_json, values_json, revision, provenance, watermark, definition_version, ${at}, NULL`;
  // Nothing here needs an answer (the counts are known): the statements go out with the commit's text.
  const run = async (sql: string) => { if (tx.defer) tx.defer(sql); else await tx.execute(sql); };
  if (counts.fresh > 0) await run(`INSERT INTO ${schema}.result_rows (${cols}) SELECT ${values} FROM ${rowsOf} WHERE fresh = 1`);
  if (counts.updated > 0) {
    const t = `${schema}.result_rows`;
    await run(
      `INSERT INTO ${schema}.result_history (${cols}) SELECT ${staged('r')} FROM ${t} r JOIN ${rowsOf} s
       ON s.fresh = 0 AND r.pipeline = s.pipeline AND r.generation = 0 AND r.window_start = s.window_start AND r.cell = s.cell`);
    await run(
      `UPDATE ${t} SET day = s.day, kind = s.kind, window_end = s.window_end, key_json = s.key_json, values_json = s.values_json, revision = s.revision,
         provenance = s.provenance, watermark = s.watermark, definition_version = s.definition_version, written_at = s.written_at, job_id = NULL
       FROM (SELECT ${values} FROM ${rowsOf} WHERE fresh = 0) AS s(${cols})
       WHERE ${t}.pipeline = s.pipeline AND ${t}.generation = 0 AND ${t}.window_start = s.window_start AND ${t}.cell = s.cell`);
  }
}

/** Windows written as SQL literals up to this many (no trip to stage them); more go to a staging table. */
const INLINE_WINDOWS = 64;

/** The batch's windows as a relation `w` (WINDOW_COLUMNS). */
async function windowSource(tx: SqlDriver, schema: string, windows: readonly SqlValue[][]): Promise<string> {
  const names = WINDOW_COLUMNS.map((c) => c.name).join(', ');
  if (windows.length > INLINE_WINDOWS) return `${await tx.stage(schema, 'stage_live_windows', WINDOW_COLUMNS, windows)} w`;
  const literal = (v: SqlValue, type: string) => (v === null || v === undefined ? `NULL::${type}` : type === 'TEXT' ? sqlText(String(v)) : `${Math.trunc(Number(v))}::${type}`);
  return `(VALUES ${windows.map((row) => `(${row.map((v, i) => literal(v, WINDOW_COLUMNS[i]!.type)).join(', ')})`).join(', ')}) AS w(${names})`;
}
