import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { DefinitionError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import { partitionGlob, schemaDir } from './archive-layout.ts';
import { DuckDb, QueryError, quoteString } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';

/**
 * The archive keeps the fields its schema had when each file was written. A field added to the schema
 * later has no column in the files written before: DuckDB then fails on the glob (column not found, or
 * schema mismatch between files), which surfaced as an internal error with a stack trace. Called on
 * that failure only (checking every file first costs every replay): when a field the pipeline reads
 * is missing from some files, a user error saying which field, how many files, and what to do.
 */
export async function refuseArchiveWithoutFields(db: DuckDb, def: PipelineDefinition, archiveDir: string, error: unknown): Promise<void> {
  if (!(error instanceof QueryError) || !/not found|schema mismatch/i.test(error.message)) return;
  if ((await listArchiveFiles(archiveDir, def.schema)).length === 0) return;
  const read = fieldsRead(def);
  // Only this schema's archive files: a file without the time or id field, `_source` or `_offset` is
  // another schema's, which the replay moves to `_corrupt/` (archive-check.ts), not a field added later.
  const mine = [def.schema.timeField, def.schema.idField, '_source', '_offset'];
  const rows = await db.rows(
    `WITH cols AS (SELECT file_name, name FROM parquet_schema(${quoteString(partitionGlob(archiveDir, def.schema))})), ` +
      `mine AS (SELECT file_name FROM cols WHERE name IN (${mine.map(quoteString).join(', ')}) GROUP BY file_name HAVING count(DISTINCT name) = ${mine.length}) ` +
      `SELECT '' AS name, count(*) AS n FROM mine UNION ALL ` +
      `SELECT name, count(DISTINCT file_name) AS n FROM cols WHERE file_name IN (SELECT file_name FROM mine) AND name IN (${read.map(quoteString).join(', ')}) GROUP BY name`,
  );
  const held = new Map(rows.map((r) => [String(r.name), Number(r.n)]));
  const files = held.get('') ?? 0;
  if (files === 0) return;
  const missing = read.filter((f) => (held.get(f) ?? 0) < files);
  if (missing.length === 0) return;
  const which = missing.map((f) => `"${f}" (${files - (held.get(f) ?? 0)} of ${files} files)`).join(', ');
  throw new DefinitionError(
    `archive ${schemaDir(archiveDir, def.schema)} has no column for ${which}, which pipeline ${def.name} reads: those files were archived ` +
      `before the field was in schema ${def.schema.name}, and the archive keeps only the schema's fields. Archive their sources again ` +
      `with these definitions (\`concord archive --schema ${shellWord(def.schema.name)} --input FILE --dir ${shellWord(archiveDir)}\` replaces a ` +
      `source's files), or replay with the definitions they were archived under`,
  );
}
