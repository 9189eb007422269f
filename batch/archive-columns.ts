import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { DefinitionError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import { duckdbType, type EventSchema } from '../schemas/schema.ts';
import { isArchiveFileOf } from './archive-check.ts';
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

/**
 * True if DuckDB refused a read for a column some archive files lack (binder: not found, or, for a column
 * the SELECT names as its alias such as the time field's `epoch_ms(t) AS t`, "referenced ... before it is
 * defined"; scan: mismatch).
 */
export function missingColumn(error: unknown): boolean {
  return error instanceof QueryError && /not found|schema mismatch|cannot be referenced before it is defined/i.test(error.message);
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
export function archiveScan(dir: string, schema: EventSchema, files?: readonly string[], o: { filename?: string } = {}): string {
  const from = files ? `[${files.map(quoteString).join(', ')}]` : quoteString(partitionGlob(dir, schema));
  const named = o.filename === undefined ? '' : `, filename = ${quoteString(o.filename)}`;
  return readsTolerantly(dir, schema) ? tolerantScan(from, schema, o) : `read_parquet(${from}, hive_partitioning = false${named})`;
}

/**
 * Files `from` (a quoted glob or list) with every optional field of `schema` as a column, NULL where a
 * file has none: `union_by_name` fills the files without it when another has it; the empty typed row
 * set (`UNION ALL BY NAME`) adds it when none has. DuckDB pushes projections and filters through both.
 */
export function tolerantScan(from: string, schema: EventSchema, o: { filename?: boolean | string } = {}): string {
  // `filename`: each row's file as a column `filename` (or the name given; NULL in the typed empty row set).
  const named = o.filename === undefined || o.filename === false ? '' : `, filename = ${o.filename === true ? 'true' : quoteString(o.filename)}`;
  const files = `read_parquet(${from}, hive_partitioning = false, union_by_name = true${named})`;
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
  /** Files that are not this schema's (`isArchiveFileOf`): moved out by the caller. */
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
  // Only this schema's archive files (`isArchiveFileOf`): another schema's file is moved to `_corrupt/`
  // by the replay (archive-check.ts), not taken for a field added later.
  const rows = await db.rows(`SELECT file_name, list(DISTINCT name) AS names FROM parquet_schema(${quoteString(partitionGlob(dir, schema))}) GROUP BY file_name`);
  const columns = rows.map((r) => new Set((r.names as unknown[]).map(String)));
  const mine = columns.filter((c) => isArchiveFileOf(c, schema));
  const files = mine.length;
  const foreign = columns.length - files;
  const lacks = (name: string) => mine.filter((c) => !c.has(name)).length;
  const missing = Object.keys(schema.fields).filter((f) => lacks(f) > 0);
  // Another schema's files in the glob: no tolerant read (it would take them in); the caller moves them out.
  if (missing.length === 0) lacking.delete(schemaDir(dir, schema));
  else if (foreign === 0) lacking.set(schemaDir(dir, schema), new Set(missing));
  const read = new Set(fieldsRead(def));
  const required = missing.filter((f) => schema.fields[f]!.required && read.has(f));
  if (files > 0 && required.length > 0) {
    const which = required.map((f) => `"${f}" (${lacks(f)} of ${files} files)`).join(', ');
    // A changed time or id field: the old files hold the events under the earlier one.
    const role = required.map((f) => (f === schema.timeField ? `"${f}" is the time field` : f === schema.idField ? `"${f}" is the id field` : '')).filter(Boolean);
    throw new DefinitionError(
      `archive ${schemaDir(dir, schema)} has no column for ${which}, which pipeline ${def.name} reads: those files were archived ` +
        `before the field was in schema ${schema.name}${role.length > 0 ? ` (${role.join(', ')} now: they were archived under another one)` : ''}, ` +
        `and the archive keeps only the schema's fields. Archive their sources again ` +
        `with these definitions (\`concord archive --schema ${shellWord(schema.name)} --input FILE --dir ${shellWord(dir)}\` replaces a ` +
        `source's files), or replay with the definitions they were archived under`,
    );
  }
  const optional = missing.filter((f) => !schema.fields[f]!.required);
  return { optional, hashes: sketched.filter((_, i) => lacks(hashNames[i]!) > 0), foreign };
}
