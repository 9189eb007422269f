import { archiveScan } from '../batch/archive-columns.ts';
import { partitionGlob } from '../batch/archive-layout.ts';
import { quoteIdent, quoteString, type DuckDb } from '../batch/duckdb.ts';
import type { PipelineDefinition } from '../pipeline/definition.ts';

/**
 * Which of `ids` (event ids of the pipeline's input) the archive holds. A rule alert the stream raised
 * at an event the archive lacks cannot be explained by lateness: the replay never saw that event.
 * `only`: the files to look in (a day's alerts are raised at the day's events), default all.
 */
export async function archivedIds(db: DuckDb, def: PipelineDefinition, dir: string, ids: readonly string[], only?: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0 || only?.length === 0) return new Set();
  const { idField } = def.schema;
  const files = only ? archiveScan(dir, def.schema, only) : `read_parquet(${quoteString(partitionGlob(dir, def.schema))}, hive_partitioning = false)`;
  await db.createTableFromColumns('asked_ids', [{ name: 'id', type: 'VARCHAR', values: [...new Set(ids)] }]);
  try {
    const found = await db.rows(`SELECT DISTINCT m.id FROM asked_ids m JOIN ${files} a ON CAST(a.${quoteIdent(idField)} AS VARCHAR) = m.id`);
    return new Set(found.map((r) => String(r.id)));
  } finally {
    await db.run('DROP TABLE asked_ids');
  }
}
