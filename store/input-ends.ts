import type { SqlDriver } from './sql-driver.ts';

/**
 * Where a bounded run's input ended, per pipeline: Flink's final watermark (+infinity) at the end of a
 * bounded source, kept in the store without the infinity (the store's W stays the input's last real W,
 * which seals days by the clock). The nightly reconcile reads it to tell a stream whose input ended
 * short of a day's end (a day file streamed in: nothing more of the day is coming) from one behind
 * (a backlog: its rows are on their way), and does not wait for the first.
 *
 * It holds only while the run that wrote it was the pipeline's last stream write: every later write of
 * the pipeline's rows, late events or W (a live stream after a backfill, another day file) deletes it in
 * the same transaction, and a bounded run writes it again with its last rows.
 */
export const INPUT_ENDS_DDL = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.input_ends (pipeline TEXT PRIMARY KEY, run TEXT NOT NULL,
  input_at TEXT NOT NULL, watermark DOUBLE PRECISION, ended_at BIGINT NOT NULL)`;

export interface InputEnd {
  /** The run that ended, as a user would name it (`concord stream --pipeline P --input day.jsonl`, with the definition version). */
  run: string;
  /** Where its input ended (`day.jsonl to its end (86400 lines)`). */
  at: string;
  /** The pipeline's W when its input ended (the store's W then); null: no event. */
  watermark: number | null;
  /** When the end was written, epoch ms. */
  endedAt: number;
}

/**
 * In a stream write's transaction: the input ends of the pipelines it wrote are forgotten (`wrote`), then
 * those it ends (`ends`) are written.
 */
export async function writeInputEnds(tx: SqlDriver, s: string, wrote: Iterable<string>, ends: ReadonlyMap<string, InputEnd> | undefined): Promise<void> {
  for (const pipeline of new Set(wrote)) if (!ends?.has(pipeline)) await tx.execute(`DELETE FROM ${s}.input_ends WHERE pipeline = $1`, [pipeline]);
  for (const [pipeline, e] of ends ?? []) {
    await tx.execute(
      `INSERT INTO ${s}.input_ends (pipeline, run, input_at, watermark, ended_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (pipeline) DO UPDATE SET run = EXCLUDED.run, input_at = EXCLUDED.input_at, watermark = EXCLUDED.watermark, ended_at = EXCLUDED.ended_at`,
      [pipeline, e.run, e.at, e.watermark !== null && Number.isFinite(e.watermark) ? e.watermark : null, e.endedAt]);
  }
}

/** The input end of `pipeline` the store holds (undefined: its last stream write was no bounded run's end). */
export async function readInputEnd(db: SqlDriver, s: string, pipeline: string): Promise<InputEnd | undefined> {
  const [r] = await db.query(`SELECT run, input_at, watermark, ended_at FROM ${s}.input_ends WHERE pipeline = $1`, [pipeline]);
  if (r === undefined) return undefined;
  return { run: String(r.run), at: String(r.input_at), watermark: r.watermark === null ? null : Number(r.watermark), endedAt: Number(r.ended_at) };
}

/** The end of a bounded run's input, of a pipeline its input took to W `w` (-infinity or undefined: no event). */
export function inputEnd(run: string, at: string, w: number | undefined, now: number = Date.now()): InputEnd {
  return { run, at, watermark: w !== undefined && Number.isFinite(w) ? w : null, endedAt: now };
}
