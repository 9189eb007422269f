import { existsSync } from 'node:fs';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { quarantineCorruptFiles, warnCorrupt, type CorruptFile } from './archive-check.ts';
import { guardRequired, learnArchiveFields, missingColumn, readsTolerantly } from './archive-columns.ts';
import { checkDecimalScales } from './archive-scales.ts';
import { DuckDb } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';

/** What the reads learnt about the archive before the attempt: some files lack the stored hash of a sketched field. */
export interface ArchiveReadGaps {
  readonly hashesMissing: boolean;
}

export interface RecoveringReadOptions<T> {
  /** A connection to read with (default: one opened and closed here). */
  readonly db?: DuckDb;
  /** A corrupt archive file was moved out of the reads (default: a process warning naming it). */
  readonly onCorrupt?: (file: CorruptFile) => void;
  /** The result when no file of the schema is left to read (default: read anyway, and fail as the read fails). */
  readonly whenEmpty?: () => T;
  /** The read touches these files only (a rule day's reach): the checks look at them, not at every file. */
  readonly files?: readonly string[];
}

/** Attempts after the first: each one follows something newly learnt or moved out, so few are ever needed. */
const RETRIES = 3;

/**
 * Runs `read` over a schema's archive, recovering from the failures the archive itself explains, for
 * every reader (replay, reconcile): corrupt files (truncated, not Parquet: checked cheaply first; a
 * footer that does not decode or another schema's columns: checked only after DuckDB refused the read)
 * are moved to `_corrupt/` by name and the read runs again; a column some files lack (a field added to
 * the schema or sketched after they were written) is learnt once (`learnArchiveFields`: a required
 * field the pipeline reads is refused, optional ones read as NULL from then on, missing hashes are
 * computed by the caller) and the read runs again. Checked only on failure: checking every footer first
 * cost 30-90 ms on every replay (docs/benchmarks.md). `read` may run several times on one connection,
 * so its temporary tables must be `CREATE OR REPLACE`.
 */
export async function readArchiveRecovering<T>(
  def: PipelineDefinition, dir: string, read: (db: DuckDb, gaps: ArchiveReadGaps) => Promise<T>, options: RecoveringReadOptions<T> = {},
): Promise<T> {
  const report = (moved: readonly CorruptFile[]) => moved.forEach((c) => (options.onCorrupt ?? warnCorrupt)(c));
  const only = options.files && { only: options.files };
  const noneLeft = async () => options.whenEmpty !== undefined && (only ? !only.only.some((f) => existsSync(f)) : (await listArchiveFiles(dir, def.schema)).length === 0);
  report(await quarantineCorruptFiles(dir, def.schema, only ?? {}));
  if (await noneLeft()) return options.whenEmpty!();
  await checkDecimalScales(def, dir, options.files);
  const db = options.db ?? (await DuckDb.open());
  try {
    await guardRequired(db, def, dir);
    let hashesMissing = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await read(db, { hashesMissing });
      } catch (error) {
        if (attempt >= RETRIES) throw error;
        if (missingColumn(error)) {
          const tolerant = readsTolerantly(dir, def.schema);
          const gaps = await learnArchiveFields(db, def, dir);
          const learnt = (!tolerant && readsTolerantly(dir, def.schema)) || (gaps.hashes.length > 0 && !hashesMissing);
          hashesMissing ||= gaps.hashes.length > 0;
          // Another schema's files in the glob keep the read plain: they are moved out below first.
          if (learnt && gaps.foreign === 0) continue;
        }
        const moved = await quarantineCorruptFiles(dir, def.schema, { deep: true, db, ...only });
        if (moved.length === 0) throw error;
        report(moved);
        if (await noneLeft()) return options.whenEmpty!();
      }
    }
  } finally {
    if (!options.db) db.close();
  }
}
