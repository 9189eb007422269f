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
 * archive does not hold is looked up by the event's id and time instead. An event delivered several
 * times (re-sent) has as many archived deliveries: the stream's late ones of an id, in the order it read
 * them, are its last archived deliveries in arrival order (ingest time, source, offset), the ones a
 * deduplicating replay leaves out (evidence.ts), since a late delivery is a later one. Before, such an
 * event was taken only when exactly one archived event had its id and time, so a late re-sent one stayed
 * at the stream's position: the archive held it twice where the stream counted it once, and its cell
 * was unexplained. One the archive lacks stays as logged (its cell is then unexplained, as before).
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
    { name: 'src', type: 'VARCHAR', values: foreign.map((i) => logged[i]!.record.position.source) },
    { name: 'off', type: 'DOUBLE', values: foreign.map((i) => logged[i]!.record.position.offset) },
  ]);
  // Both sides numbered from their last delivery back: the stream's last late one of an id is the
  // archive's last delivery, and so on (more late ones than deliveries: the first stay as logged).
  const found = await db.rows(
    `WITH m AS (SELECT i, id, ts, row_number() OVER (PARTITION BY id, ts ORDER BY src DESC, off DESC) AS n FROM late_foreign),
     d AS (SELECT CAST(${quoteIdent(idField)} AS VARCHAR) AS a_id, epoch_ms(${quoteIdent(timeField)}) AS a_ts, _source, _offset, _ingest_ts
           FROM ${files} WHERE CAST(${quoteIdent(idField)} AS VARCHAR) IN (SELECT id FROM late_foreign)),
     a AS (SELECT a_id AS id, a_ts AS ts, _source, _offset, row_number() OVER (PARTITION BY a_id, a_ts ORDER BY _ingest_ts DESC, _source DESC, _offset DESC) AS n FROM d)
     SELECT m.i, a._source AS source, a._offset AS "offset" FROM m JOIN a ON a.id = m.id AND a.ts = m.ts AND a.n = m.n`);
  await db.run('DROP TABLE late_foreign');
  const out = [...logged];
  for (const m of found) {
    const l = out[Number(m.i)]!;
    out[Number(m.i)] = { ...l, record: { ...l.record, position: { source: String(m.source), offset: Number(m.offset) } } };
  }
  return out;
}
