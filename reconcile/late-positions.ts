import { basename } from 'node:path';
import { partitionGlob, sourceTag } from '../batch/archive-layout.ts';
import { quoteIdent, quoteString, type DuckDb } from '../batch/duckdb.ts';
import { listArchiveFiles } from '../batch/parquet-archive.ts';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import type { LoggedLate } from './reconcile.ts';

/**
 * The workers' late events at the archive's positions. A late event is matched to the archive by its
 * position (source and offset), which holds when the archive was made from what the stream read. When
 * it was not (the day streamed from one file, archived from per-day files), a logged position the
 * archive does not hold is looked up by the event's id and time instead, and taken when exactly one
 * archived event has both; otherwise it stays as logged (its cell is then unexplained, as before).
 */
export async function lateAtArchivePositions(db: DuckDb, def: PipelineDefinition, dir: string, logged: readonly LoggedLate[]): Promise<readonly LoggedLate[]> {
  // Archive files are named by their source's tag: a listing tells which logged sources it lacks, so the
  // usual case (the archive made from what the stream read) reads no data here.
  const archived = new Set((await listArchiveFiles(dir, def.schema)).map((f) => basename(f).replace(/-\d+-\d+\.parquet$/, '')));
  const foreign = logged.flatMap((l, i) => (archived.has(sourceTag(l.record.position.source)) ? [] : [i]));
  if (foreign.length === 0) return logged;
  const { idField, timeField } = def.schema;
  const files = `read_parquet(${quoteString(partitionGlob(dir, def.schema))}, hive_partitioning = false)`;
  await db.createTableFromColumns('late_foreign', [
    { name: 'i', type: 'DOUBLE', values: foreign },
    { name: 'id', type: 'VARCHAR', values: foreign.map((i) => String(logged[i]!.record.event[idField] ?? '')) },
    { name: 'ts', type: 'DOUBLE', values: foreign.map((i) => Number(logged[i]!.record.event[timeField])) },
  ]);
  const found = await db.rows(
    `SELECT m.i, any_value(a._source) AS source, any_value(a._offset) AS "offset"
     FROM late_foreign m JOIN ${files} a ON CAST(a.${quoteIdent(idField)} AS VARCHAR) = m.id AND epoch_ms(a.${quoteIdent(timeField)}) = m.ts
     GROUP BY m.i HAVING count(*) = 1`);
  await db.run('DROP TABLE late_foreign');
  const out = [...logged];
  for (const m of found) {
    const l = out[Number(m.i)]!;
    out[Number(m.i)] = { ...l, record: { ...l.record, position: { source: String(m.source), offset: Number(m.offset) } } };
  }
  return out;
}
