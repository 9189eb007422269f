import { sqlText, type SqlDriver } from './sql-driver.ts';

/**
 * Where each pipeline's stream started: the first watermark W the store held of it, written in the
 * transaction that wrote that W (a pipeline's first stream write; a flush writes W even when no row
 * came: a filter that kept nothing, a rule without an alert). Never updated or deleted.
 *
 * What `reconcile --date` reads to tell a day the stream read but kept no row of (its filter dropped
 * every event of the day: reconciled as any day) from a day before the pipeline's stream began (added
 * to the definitions later: refused before the replay, reconcile/stream-coverage.ts). The first day with
 * stream rows could not tell them apart. A store created before gets the table empty from its next
 * writer, and pipelines whose W it held already get no row: their start is their first day with rows,
 * as before.
 */
export const STREAM_STARTS_DDL = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.stream_starts (pipeline TEXT PRIMARY KEY,
  watermark DOUBLE PRECISION NOT NULL, written_at BIGINT NOT NULL)`;

/**
 * The statement that records `pipeline`'s stream start at W `w` when the store holds no W of it yet;
 * run before the W is written, in its transaction. `known`: the caller knows the store holds no W of it
 * (the live index of the sole DuckDB writer), so no check is made.
 */
export function streamStartSql(s: string, pipeline: string, w: number, at: number, known: boolean): string {
  const row = `${sqlText(pipeline)}, ${w}, ${Math.round(at)}`;
  return known
    ? `INSERT INTO ${s}.stream_starts (pipeline, watermark, written_at) VALUES (${row}) ON CONFLICT (pipeline) DO NOTHING`
    : `INSERT INTO ${s}.stream_starts (pipeline, watermark, written_at) SELECT ${row}
       WHERE NOT EXISTS (SELECT 1 FROM ${s}.watermarks WHERE pipeline = ${sqlText(pipeline)}) ON CONFLICT (pipeline) DO NOTHING`;
}

/** The first W the store held of `pipeline`'s stream; null: none recorded (no stream wrote it, or it did before the table existed). */
export async function readStreamStart(db: SqlDriver, s: string, pipeline: string): Promise<number | null> {
  const [r] = await db.query(`SELECT watermark FROM ${s}.stream_starts WHERE pipeline = $1`, [pipeline]);
  return r === undefined ? null : Number(r.watermark);
}
