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
 * The input ends a store writes, in each stream write's transaction: those of the pipelines it wrote are
 * forgotten (`wrote`), then those it ends (`ends`) are written.
 *
 * Forgetting is on every flush of the live path, and almost always finds nothing. Embedded DuckDB has one
 * writing process and this is its only writer of the table (as for store/live-index.ts): it knows which
 * pipelines hold an input end (read on its first write, kept as it writes and deletes them), and a write
 * of a pipeline without one issues no statement. PostgreSQL has several writing processes (a bounded
 * `stream --input` or `run --stop-when-idle` beside or before a live `sink`): one may have written an end
 * this one never saw, so every write deletes, in one statement for all the pipelines it wrote.
 */
export class InputEndWrites {
  private readonly s: string;
  /** Only this process writes the store (embedded DuckDB): `held` can be known. */
  private readonly oneWriter: boolean;
  /** The pipelines with an input end stored; undefined: not read yet, or a transaction failed since. */
  private held: Set<string> | undefined;

  constructor(schema: string, oneWriter: boolean) {
    this.s = schema;
    this.oneWriter = oneWriter;
  }

  /** After a failed transaction: what it changed of `held` was rolled back, so it is read again. */
  clear(): void {
    this.held = undefined;
  }

  async write(tx: SqlDriver, wrote: Iterable<string>, ends: ReadonlyMap<string, InputEnd> | undefined): Promise<void> {
    const held = this.oneWriter ? (this.held ??= await this.storedPipelines(tx)) : undefined;
    const forget = [...new Set(wrote)].filter((p) => !ends?.has(p) && (held === undefined || held.has(p)));
    if (forget.length > 0) {
      await tx.execute(`DELETE FROM ${this.s}.input_ends WHERE pipeline IN (${forget.map((_, i) => `$${i + 1}`).join(', ')})`, forget);
      for (const p of forget) held?.delete(p);
    }
    for (const [pipeline, e] of ends ?? []) {
      await tx.execute(
        `INSERT INTO ${this.s}.input_ends (pipeline, run, input_at, watermark, ended_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (pipeline) DO UPDATE SET run = EXCLUDED.run, input_at = EXCLUDED.input_at, watermark = EXCLUDED.watermark, ended_at = EXCLUDED.ended_at`,
        [pipeline, e.run, e.at, e.watermark !== null && Number.isFinite(e.watermark) ? e.watermark : null, e.endedAt]);
      held?.add(pipeline);
    }
  }

  private async storedPipelines(tx: SqlDriver): Promise<Set<string>> {
    return new Set((await tx.query(`SELECT pipeline FROM ${this.s}.input_ends`)).map((r) => String(r.pipeline)));
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
