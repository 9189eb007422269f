import { DefinitionError } from '../pipeline/errors.ts';
import type { PipelineDefinition, WindowedPipeline } from '../pipeline/definition.ts';
import type { WindowResult } from '../schemas/results.ts';
import { quoteIdent, type DuckDb } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';
import { windowRecord } from './replay-records.ts';
import { WS, aggregateSql, aggregateWhereSql, assignedSql, filterClause, keyValueSql } from './replay-sql.ts';
import { archiveFiles, sourceRelation } from './replay-source.ts';

/** Whether `replayCellTable` can replay the definition: windowed, every aggregate lowered to plain SQL. */
export function replaysAsTable(def: PipelineDefinition): boolean {
  return def.kind === 'windowed' && def.aggregates.every((a) => aggregateSql(a.aggregate, def) !== null);
}

export interface CellTableOptions {
  readonly timeRanges?: readonly { from: number; to: number }[];
  /**
   * One replay per entry, all from one scan of the archive: the name of a table `(_source, _offset)` of
   * deliveries that replay leaves out (e.g. repeated deliveries, or the events the stream judged late),
   * or undefined for every delivery.
   */
  readonly variants: readonly (string | undefined)[];
  /** A table of (delivery, window) pairs (`WindowSkips`) the variants `variants` also leave out, of those windows only. */
  readonly skippedWindows?: { readonly variants: readonly number[]; readonly table: string };
  /** Read these archive files only (those of `timeRanges`' hours: a day's), not every file's footer. */
  readonly files?: readonly string[];
}

/**
 * Replays a windowed definition into the DuckDB table `table` instead of JS records, for diffs that stay
 * in SQL (reconciling millions of cells). Columns: `ws` (window start, DOUBLE), the key fields as text
 * (what `cellKey` compares: `String(value)`), then per variant v `n<v>` (the deliveries it counted; 0:
 * the cell does not exist in that variant) and `v<v>_<i>` (aggregate i, DOUBLE).
 */
export async function replayCellTable(db: DuckDb, def: WindowedPipeline, archiveDir: string, table: string, options: CellTableOptions): Promise<void> {
  if (!replaysAsTable(def)) throw new DefinitionError(`${def.name}: sketches cannot be replayed into a cell table; use replay()`);
  if ((options.files ?? (await listArchiveFiles(archiveDir, def.schema))).length === 0) {
    // No Parquet file at all (an archive of rejected lines only): DuckDB would refuse the empty glob. No cells.
    const columns = ['__ws DOUBLE', ...def.key.map((k) => `${quoteIdent(k)} VARCHAR`),
      ...options.variants.flatMap((_, v) => [`__n${v} BIGINT`, ...def.aggregates.map((_a, i) => `__v${v}_${i} DOUBLE`)])];
    await db.run(`CREATE OR REPLACE TEMP TABLE ${table} (${columns.join(', ')})`);
    return;
  }
  const marked = options.variants.map((t, v) => [t, v] as const).filter(([t]) => t !== undefined) as [string, number][];
  let source = sourceRelation(def, archiveDir, options.timeRanges ? { timeRanges: options.timeRanges } : {}, archiveFiles(archiveDir, def, options.files));
  const flags: string[] = [];
  if (marked.length > 0) {
    // One left join against the (small) union of every variant's left-out deliveries.
    const union = marked.map(([t, v]) => `SELECT _source, _offset, ${v} AS v FROM ${t}`).join(' UNION ALL ');
    const marks = `(SELECT _source, _offset, ${marked.map(([, v]) => `bool_or(v = ${v}) AS __x${v}`).join(', ')} FROM (${union}) GROUP BY _source, _offset)`;
    source = `(SELECT e.*, ${marked.map(([, v]) => `coalesce(m.__x${v}, false) AS __x${v}`).join(', ')} FROM ${source} e LEFT JOIN ${marks} m USING (_source, _offset))`;
    flags.push(...marked.map(([, v]) => `__x${v}`));
  }
  const keys = def.key.map(quoteIdent);
  const keyText = def.key.map((k) => `${keyValueSql(def, k)} AS ${quoteIdent(k)}`);
  const skipped = options.skippedWindows;
  const selects = options.variants.flatMap((t, v) => {
    const left = [...(t === undefined ? [] : [`__x${v}`]), ...(skipped?.variants.includes(v) ? ['__skipped'] : [])];
    const counted = left.length === 0 ? undefined : `NOT (${left.join(' OR ')})`;
    // The cell exists by the deliveries the variant counts; each aggregate takes those its own filter keeps.
    return [`count(*)${filterClause(counted)} AS __n${v}`,
      ...def.aggregates.map((a, i) => `(${aggregateSql(a.aggregate, def, filterClause(counted, aggregateWhereSql(def, a)))!})::DOUBLE AS __v${v}_${i}`)];
  });
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table} AS
    SELECT ${WS}::DOUBLE AS __ws, ${[...keyText, ...selects].join(', ')}
    FROM (${assignedSql(def, source, flags, skipped ? { table: skipped.table, flag: '__skipped' } : undefined)}) GROUP BY ${[WS, ...keys].join(', ')}`);
}

/** The window results of variant `v` of a cell table, as `replay` returns them (keys typed by the schema). */
export async function cellTableResults(db: DuckDb, def: WindowedPipeline, table: string, v: number, range?: { from: number; to: number }): Promise<WindowResult[]> {
  const where = range ? `__ws >= ${range.from} AND __ws < ${range.to}` : 'true';
  const keys = def.key.map(quoteIdent);
  const cols = await db.columns(`SELECT __ws, ${[...keys, ...def.aggregates.map((_, i) => `__v${v}_${i}`)].join(', ')}
    FROM ${table} WHERE __n${v} > 0 AND ${where} ORDER BY ${['__ws', ...keys].join(', ')}`);
  const starts = cols.__ws ?? [];
  const fieldCols = [...def.key.map((k) => cols[k]!), ...def.aggregates.map((_, i) => cols[`__v${v}_${i}`]!)];
  const out: WindowResult[] = new Array(starts.length);
  for (let r = 0; r < starts.length; r++) out[r] = windowRecord(def, starts[r] as number, fieldCols.map((col) => col[r]));
  return out;
}
