import type { PipelineDefinition } from '../pipeline/definition.ts';
import { hash64Into } from '../pipeline/hash.ts';
import { partitionGlob, hashColumnNames, hashColumns } from './archive-layout.ts';
import { DuckDb, quoteIdent, quoteString } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';
import { tolerantScan } from './archive-columns.ts';
import { fieldExpr } from './replay-sql.ts';

/**
 * The archive relation a sketching definition replays from. The archive stores the pinned hash of each
 * field a pipeline sketched when it was written; a pipeline added later may sketch a field some files
 * have no hash for. Then each distinct value of that field is hashed once here, with the stream's own
 * function over the same normalised value, and joined in: estimates stay bit-identical to the stream.
 */
export async function sketchHashSource(db: DuckDb, def: PipelineDefinition, archiveDir: string, files: string): Promise<string> {
  if (def.kind !== 'windowed') return files;
  const fields = [...new Set(def.aggregates.flatMap((a) => (a.aggregate.kind === 'approx_distinct' ? [a.aggregate.field] : [])))];
  if (fields.length === 0) return files;
  const glob = quoteString(partitionGlob(archiveDir, def.schema));
  const archived = (await listArchiveFiles(archiveDir, def.schema)).length;
  const missing: string[] = [];
  for (const f of fields) {
    const rows = await db.rows(`SELECT count(DISTINCT file_name) AS n FROM parquet_schema(${glob}) WHERE name = ${quoteString(hashColumnNames(f).hi)}`);
    if (Number(rows[0]?.n ?? 0) < archived) missing.push(f);
  }
  if (missing.length === 0) return files;
  // Every footer is read here anyway: optional fields some files lack are NULL (archive-columns.ts).
  const all = tolerantScan(glob, def.schema);
  const joins: string[] = [];
  const hashCols: string[] = [];
  for (const [i, f] of missing.entries()) {
    const table = `replay_hash_${i}`;
    const kind = def.schema.fields[f]!.kind;
    const sqlType = kind === 'string' ? 'VARCHAR' : kind === 'double' ? 'DOUBLE' : kind === 'bool' ? 'BOOLEAN' : 'BIGINT';
    const values = (await db.columns(`SELECT DISTINCT ${fieldExpr(def, f)} AS v FROM ${all} WHERE ${quoteIdent(f)} IS NOT NULL`)).v ?? [];
    await db.run(`CREATE OR REPLACE TEMP TABLE ${table} (v ${sqlType}, hi UINTEGER, lo UINTEGER)`);
    const appender = await db.appender(table);
    const hash = new Uint32Array(2);
    for (const raw of values) {
      const v = typeof raw === 'bigint' ? Number(raw) : (raw as string | number | boolean);
      if (typeof v === 'string') appender.appendVarchar(v);
      else if (typeof v === 'boolean') appender.appendBoolean(v);
      else if (sqlType === 'DOUBLE') appender.appendDouble(v);
      else appender.appendBigInt(BigInt(v));
      hash64Into(String(v), hash);
      appender.appendUInteger(hash[0]!);
      appender.appendUInteger(hash[1]!);
      appender.endRow();
    }
    appender.closeSync();
    const on = kind === 'timestamp' ? `epoch_ms(e.${quoteIdent(f)})` : `e.${quoteIdent(f)}`;
    joins.push(`LEFT JOIN ${table} h${i} ON ${on} = h${i}.v`);
    hashCols.push(`h${i}.hi AS ${hashColumns(f).hi}`, `h${i}.lo AS ${hashColumns(f).lo}`);
  }
  const kept = fields.filter((f) => !missing.includes(f)).flatMap((f) => [`e.${hashColumns(f).hi}`, `e.${hashColumns(f).lo}`]);
  const cols = [...Object.keys(def.schema.fields).map((n) => `e.${quoteIdent(n)}`), 'e._source', 'e._offset', 'e._ingest_ts', ...kept, ...hashCols];
  return `(SELECT ${cols.join(', ')} FROM ${all} e ${joins.join(' ')})`;
}
