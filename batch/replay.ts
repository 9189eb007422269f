import { access } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { ArchiveError, DefinitionError } from '../pipeline/errors.ts';
import type { ResultRecord } from '../schemas/results.ts';
import type { CorruptFile } from './archive-check.ts';
import { readArchiveRecovering, type ArchiveReadGaps } from './archive-recovery.ts';
import type { DuckDb } from './duckdb.ts';
import { inTimeRanges, ruleSql, windowedPlan } from './replay-sql.ts';
import { EXCLUDED_FROM_WINDOWS, archiveFiles, loadExcluded, loadWindowSkips, sourceRelation, type SourceFilter } from './replay-source.ts';
import { replayRule } from './replay-rule.ts';
import { cellsFilter, loadReplayCells, type WindowCell } from './replay-cells.ts';
import { replayWindowed } from './replay-windowed.ts';
import { sketchHashSource } from './sketch-hashes.ts';
import { readsTolerantly } from './archive-columns.ts';

export { inTimeRanges, loadWindowSkips };
export { windowRecord } from './replay-records.ts';
export { cellTableResults, replayCellTable, replaysAsTable, type CellTableOptions } from './replay-cell-table.ts';

/**
 * Replay runtime: the same definition over complete data (no watermark) from the Parquet archive,
 * with the aggregation pushed into DuckDB SQL. HyperLogLog registers are built in SQL from the hash
 * stored at archive time; SQL returns each window's rank histogram and the estimate is computed by
 * the same function the stream runtime uses, so both numbers are bit-identical.
 */
export interface ReplayOptions extends SourceFilter {
  db?: DuckDb;
  /** A corrupt archive file was moved out of the reads (default: a process warning naming it). */
  onCorrupt?: (file: CorruptFile) => void;
  /**
   * Leave these deliveries out of one window each (windowed pipelines): hopping windows that skipped an
   * event late for them alone, which the stream's other windows of that event counted.
   */
  excludeFromWindows?: readonly { source: string; offset: number; windowStart: number }[];
  /**
   * Next to each HLL estimate the exact distinct count, next to each approx_percentile the exact
   * nearest-rank value (`<output>_exact`), for checking the estimate's error (default true; costs a full
   * distinct aggregation or sort, so benchmarks and reconcile turn it off).
   */
  exactDistinct?: boolean;
  /**
   * Windowed pipelines: replay only these (window start, key) cells, from their events alone (a
   * backfill's dirty cells; batch/replay-cells.ts); each cell's values are those of the replay without
   * it. A cell without events has no result. Give `timeRanges` covering the cells' windows too: they
   * narrow the read, and a deduplicating replay keeps an id's first delivery within them.
   */
  cells?: readonly WindowCell[];
}

export async function replay(def: PipelineDefinition, archiveDir: string, options: ReplayOptions = {}): Promise<ResultRecord[]> {
  // The user's mistake, said without the system's words (a raw "Error: ENOENT ..." said nothing more).
  await access(archiveDir).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new DefinitionError(`archive directory ${archiveDir} does not exist: name the directory \`concord archive --dir\` wrote, or archive the events first`);
    throw new ArchiveError(`archive directory ${archiveDir} cannot be read (${code ?? String(error)})`, { cause: error });
  });
  const run = async (db: DuckDb, gaps: ArchiveReadGaps) => {
    if (options.exclude && options.exclude.length > 0) await loadExcluded(db, options.exclude);
    const windowSkips = options.excludeFromWindows && options.excludeFromWindows.length > 0 ? { table: EXCLUDED_FROM_WINDOWS } : undefined;
    if (windowSkips) await loadWindowSkips(db, windowSkips.table, options.excludeFromWindows!);
    // A tolerant read (fields added later) would read a stored hash that some files lack as NULL: then
    // the sketched fields' hashes are checked, and computed here where missing (as for a field sketched later).
    const only = options.files?.filter((f) => existsSync(f));
    if (only && only.length === 0) return [];
    const files = archiveFiles(archiveDir, def, only);
    const from = gaps.hashesMissing || readsTolerantly(archiveDir, def.schema) ? await sketchHashSource(db, def, archiveDir, files) : files;
    // Deduplicated first, then cut to the cells: an id's first delivery is chosen among all it has.
    const source = sourceRelation(def, archiveDir, options, from);
    if (def.kind !== 'windowed') return replayRule(db, def, source);
    if (options.cells) await loadReplayCells(db, def, options.cells);
    return replayWindowed(db, def, source, options.exactDistinct ?? true, windowSkips, options.cells ? cellsFilter(def) : undefined);
  };
  return readArchiveRecovering(def, archiveDir, run, {
    ...(options.db ? { db: options.db } : {}), ...(options.onCorrupt ? { onCorrupt: options.onCorrupt } : {}), ...(options.files ? { files: options.files } : {}), whenEmpty: () => [],
  });
}

/**
 * The SQL `replay` runs for a definition over an archive, statement by statement (`concord explain`).
 * A field sketched after some files were archived adds a join with hashes computed at replay time.
 */
export function replayStatements(def: PipelineDefinition, archiveDir: string, options: ReplayOptions = {}): string[] {
  const source = sourceRelation(def, archiveDir, options);
  if (def.kind === 'rule') return [ruleSql(def, source).trim()];
  const plan = windowedPlan(def, source, options.exactDistinct ?? true);
  return [plan.createAssigned, plan.main, ...plan.sketches.map((s) => s.sql.trim()), ...plan.percentiles.map((s) => s.sql.trim())].filter((x): x is string => x !== undefined);
}
