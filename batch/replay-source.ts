import type { PipelineDefinition } from '../pipeline/definition.ts';
import { archiveScan } from './archive-columns.ts';
import { DuckDb, quoteIdent, quoteString } from './duckdb.ts';
import { WS, inTimeRanges, timeExpr } from './replay-sql.ts';

/** Which archived deliveries a replay reads. */
export interface SourceFilter {
  /**
   * Count each event id once (the first delivery in arrival order): a producer that re-sent an event
   * put it in the log twice, and the next-day numbers count it once. Off by default (the stream
   * counts what it was delivered; reconciliation turns it on and names such differences `duplicate`).
   */
  dedupe?: boolean;
  /**
   * Read only events with from <= ts < to for one of these ranges (a day, or the windows a backfill
   * recomputes). Callers pick ranges that hold whole windows (rules: plus the lookback span).
   */
  timeRanges?: readonly { from: number; to: number }[];
  /**
   * Leave out these deliveries (`source`, `offset`): what the stream computed without the events it
   * judged late. Reconcile uses it to check its attribution in SQL instead of re-running the stream.
   */
  exclude?: readonly { source: string; offset: number }[];
  /**
   * Read only these archive files (default: every file of the schema): a rule day's hour partitions
   * (reconcile/rule-day-reach.ts). Files gone since they were listed (moved to `_corrupt/`) are skipped.
   */
  files?: readonly string[];
  /**
   * Read only the events of this source (`_source`): one input file, as one `concord stream` run read it
   * (reconcile's `other_run` for a day two runs wrote: reconcile/other-run.ts).
   */
  source?: string;
}

/** Temp tables of left-out deliveries: `exclude` (read by `sourceRelation`), and per-window skips. */
export const EXCLUDED = 'replay_excluded';
export const EXCLUDED_FROM_WINDOWS = 'replay_excluded_windows';

/** The archive as a SQL relation, filtered to `timeRanges` and deduplicated by id when asked. */
export function sourceRelation(def: PipelineDefinition, archiveDir: string, options: SourceFilter, files = archiveFiles(archiveDir, def)): string {
  const ranges = options.timeRanges;
  const excluded = options.exclude && options.exclude.length > 0 ? EXCLUDED : undefined;
  if (!options.dedupe && !ranges && !excluded && options.source === undefined) return files;
  const conditions = [...(ranges ? [inTimeRanges(timeExpr(def), ranges)] : []), ...(options.source === undefined ? [] : [`_source = ${quoteString(options.source)}`])];
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const base = excluded ? `(SELECT * FROM ${files} ANTI JOIN ${excluded} USING (_source, _offset))` : files;
  const once = options.dedupe ? `QUALIFY row_number() OVER (PARTITION BY ${quoteIdent(def.schema.idField)} ORDER BY _ingest_ts, _source, _offset) = 1` : '';
  return `(SELECT * FROM ${base} ${where} ${once})`;
}

/** Every archived event of the definition's schema, or of `files` (optional fields added later: NULL, archive-columns.ts). */
export function archiveFiles(archiveDir: string, def: PipelineDefinition, files?: readonly string[]): string {
  return archiveScan(archiveDir, def.schema, files);
}

/** (delivery, window) pairs as the table `WindowSkips` reads. */
export async function loadWindowSkips(db: DuckDb, table: string, skips: readonly { source: string; offset: number; windowStart: number }[]): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table} (_source VARCHAR, _offset BIGINT, ${WS} BIGINT)`);
  const appender = await db.appender(table);
  for (const k of skips) {
    appender.appendVarchar(k.source);
    appender.appendBigInt(BigInt(k.offset));
    appender.appendBigInt(BigInt(k.windowStart));
    appender.endRow();
  }
  appender.closeSync();
}

/** The `exclude` deliveries as the table `sourceRelation` anti-joins. */
export async function loadExcluded(db: DuckDb, positions: readonly { source: string; offset: number }[]): Promise<void> {
  await db.run(`CREATE OR REPLACE TABLE ${EXCLUDED} (_source VARCHAR, _offset BIGINT)`);
  const appender = await db.appender(EXCLUDED);
  for (const p of positions) {
    appender.appendVarchar(p.source);
    appender.appendBigInt(BigInt(p.offset));
    appender.endRow();
  }
  appender.closeSync();
}
