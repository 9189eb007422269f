import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { DefinitionError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import { duckdbType, type EventSchema } from '../schemas/schema.ts';
import { hashColumnNames, partitionGlob, schemaDir } from './archive-layout.ts';
import { QueryError, quoteIdent, quoteString, type DuckDb } from './duckdb.ts';

/**
 * Schema evolution of the archive. The archive keeps the fields its schema had when each file was
 * written, so a field added to the schema later has no column in the files written before. An optional
 * field (`type?`) added later is a compatible change (as in Iceberg / Spark / Flink): those files read it
 * as NULL, as the stream reads an event without it. A required one is refused: old events have no value.
 *
 * Cost: the common archive (every file has every field) is read with a plain `read_parquet`, which reads
 * one file's schema. Only when DuckDB refuses the read for a missing column (`missingColumn`) is every
 * footer read (`learnArchiveFields`, one `parquet_schema` query); from then on the schema directory is
 * read tolerantly in this process (`archiveScan`: `union_by_name` over every footer, plus a typed empty
 * row set so a field no file has binds too). A fact kept per directory, not per connection: the
 * tolerant read returns the same rows as the plain one, it only reads more footers. The fields found
 * missing are kept with it, so a pipeline reading a required one is still refused (`guardRequired`).
 */
const lacking = new Map<string, ReadonlySet<string>>();

/** True if DuckDB refused a read for a column some archive files lack (binder: not found; scan: mismatch). */
export function missingColumn(error: unknown): boolean {
  return error instanceof QueryError && /not found|schema mismatch/i.test(error.message);
}

/** Whether the schema's archive was found to hold files without some field the schema has as optional. */
export function readsTolerantly(dir: string, schema: EventSchema): boolean {
  return [...(lacking.get(schemaDir(dir, schema)) ?? [])].some((f) => schema.fields[f]?.required === false);
}

/**
 * Before reading an archive already read tolerantly: a required field the pipeline reads that some files
 * lacked when last looked (a definition where it is required) is looked up again, and refused if still
 * lacking, instead of being read as NULL by `union_by_name`. A Map lookup on the common path.
 */
export async function guardRequired(db: DuckDb, def: PipelineDefinition, dir: string): Promise<void> {
  const known = lacking.get(schemaDir(dir, def.schema));
  if (known && fieldsRead(def).some((f) => known.has(f) && def.schema.fields[f]!.required)) await learnArchiveFields(db, def, dir);
}

/** The archive of `schema` (or `files` of it) as a relation, tolerant of optional fields added later once learnt. */
export function archiveScan(dir: string, schema: EventSchema, files?: readonly string[]): string {
  const from = files ? `[${files.map(quoteString).join(', ')}]` : quoteString(partitionGlob(dir, schema));
  return readsTolerantly(dir, schema) ? tolerantScan(from, schema) : `read_parquet(${from}, hive_partitioning = false)`;
}

/**
 * Files `from` (a quoted glob or list) with every optional field of `schema` as a column, NULL where a
 * file has none: `union_by_name` fills the files without it when another has it; the empty typed row
 * set (`UNION ALL BY NAME`) adds it when none has. DuckDB pushes projections and filters through both.
 */
export function tolerantScan(from: string, schema: EventSchema): string {
  const files = `read_parquet(${from}, hive_partitioning = false, union_by_name = true)`;
  const optional = Object.entries(schema.fields).filter(([, f]) => !f.required);
  if (optional.length === 0) return files;
  const nulls = optional.map(([n, f]) => `NULL::${duckdbType(f.kind)} AS ${quoteIdent(n)}`).join(', ');
  return `(SELECT * FROM ${files} UNION ALL BY NAME SELECT ${nulls} WHERE false)`;
}

export interface ArchiveFieldGaps {
  /** Optional fields of the schema some of its files have no column for (now read as NULL). */
  readonly optional: string[];
  /** Fields sketched with `approx_distinct` that some files have no stored hash for. */
  readonly hashes: string[];
  /** Files that are not this schema's (no time field, id field, `_source` or `_offset`): moved out by the caller. */
  readonly foreign: number;
}

/**
 * Called after a read failed on a missing column: reads every footer once and says which columns the
 * schema's files lack. A field the pipeline reads that is required and missing from some files is
 * refused (DefinitionError, exit 2). Optional fields missing from some files make the directory read
 * tolerantly from now on (unless another schema's files are there: those are moved out first); none
 * missing any more (re-archived) makes it plain again.
 */
export async function learnArchiveFields(db: DuckDb, def: PipelineDefinition, dir: string): Promise<ArchiveFieldGaps> {
  const schema = def.schema;
  const sketched = def.kind === 'windowed' ? def.aggregates.flatMap((a) => (a.aggregate.kind === 'approx_distinct' ? [a.aggregate.field] : [])) : [];
  const hashNames = sketched.map((f) => hashColumnNames(f).hi);
  const asked = [...Object.keys(schema.fields), ...hashNames];
  // Only this schema's archive files: a file without the time or id field, `_source` or `_offset` is
  // another schema's, which the replay moves to `_corrupt/` (archive-check.ts), not a field added later.
  const mine = [schema.timeField, schema.idField, '_source', '_offset'];
  const rows = await db.rows(
    `WITH cols AS (SELECT file_name, name FROM parquet_schema(${quoteString(partitionGlob(dir, schema))})), ` +
      `files AS (SELECT file_name, count(DISTINCT name) FILTER (WHERE name IN (${mine.map(quoteString).join(', ')})) = ${mine.length} AS mine FROM cols GROUP BY file_name) ` +
      `SELECT '' AS name, count(*) FILTER (WHERE mine) AS n, count(*) FILTER (WHERE NOT mine) AS foreign FROM files UNION ALL ` +
      `SELECT name, count(DISTINCT file_name), 0 FROM cols WHERE file_name IN (SELECT file_name FROM files WHERE mine) AND name IN (${asked.map(quoteString).join(', ')}) GROUP BY name`,
  );
  const held = new Map(rows.map((r) => [String(r.name), Number(r.n)]));
  const files = held.get('') ?? 0;
  const foreign = Number(rows.find((r) => r.name === '')?.foreign ?? 0);
  const lacks = (name: string) => files - (held.get(name) ?? 0);
  const missing = Object.keys(schema.fields).filter((f) => lacks(f) > 0);
  // Another schema's files in the glob: no tolerant read (it would take them in); the caller moves them out.
  if (missing.length === 0) lacking.delete(schemaDir(dir, schema));
  else if (foreign === 0) lacking.set(schemaDir(dir, schema), new Set(missing));
  const read = new Set(fieldsRead(def));
  const required = missing.filter((f) => schema.fields[f]!.required && read.has(f));
  if (files > 0 && required.length > 0) {
    const which = required.map((f) => `"${f}" (${lacks(f)} of ${files} files)`).join(', ');
    throw new DefinitionError(
      `archive ${schemaDir(dir, schema)} has no column for ${which}, which pipeline ${def.name} reads: those files were archived ` +
        `before the field was in schema ${schema.name}, and the archive keeps only the schema's fields. Archive their sources again ` +
        `with these definitions (\`concord archive --schema ${shellWord(schema.name)} --input FILE --dir ${shellWord(dir)}\` replaces a ` +
        `source's files), or replay with the definitions they were archived under`,
    );
  }
  const optional = missing.filter((f) => !schema.fields[f]!.required);
  return { optional, hashes: sketched.filter((_, i) => lacks(hashNames[i]!) > 0), foreign };
}
