import type { SqlDriver } from './sql-driver.ts';

/**
 * How far the stream read each source, per pipeline: the offset after the last line it read of a file
 * (`file:day.jsonl`, the name and offsets the archive gives the same lines), as a Kafka consumer's
 * committed offset says how far it read a partition. Written in the transaction of the rows decided up to
 * there, so it never runs ahead of what the store holds of the stream.
 *
 * Reconcile reads it to tell the archived events the stream never read from the others: an archived line
 * at or past the reach of its source was appended after the stream read the file (`archive_added`),
 * whenever it was archived and in however many archivings (reconcile/archive-added.ts). `input_ends`
 * says only that a run ended, in words, and is forgotten by the next stream write; the reach is kept per
 * source until a later run reads the source again (a run over the file from its start writes its own).
 * A source read from stdin or a pipe has no name across runs and is not recorded.
 */
export const STREAM_REACH_DDL = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.stream_reach (pipeline TEXT NOT NULL, source TEXT NOT NULL,
  next_offset BIGINT NOT NULL, read_at BIGINT NOT NULL, PRIMARY KEY (pipeline, source))`;

/** Per pipeline, per source: the offset after the last one the stream read. */
export type StreamReach = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** Writes `reach` (inside a stream write's transaction), replacing what an earlier run recorded of each source. */
export async function writeStreamReach(tx: SqlDriver, s: string, reach: StreamReach | undefined, now: number): Promise<void> {
  for (const [pipeline, sources] of reach ?? []) {
    for (const [source, next] of sources) {
      await tx.execute(
        `INSERT INTO ${s}.stream_reach (pipeline, source, next_offset, read_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (pipeline, source) DO UPDATE SET next_offset = EXCLUDED.next_offset, read_at = EXCLUDED.read_at`,
        [pipeline, source, next, now]);
    }
  }
}

/** The sources the stream read for `pipeline`, each with the offset after the last it read (empty: none recorded, e.g. a store written before 2026-12-08). */
export async function readStreamReach(db: SqlDriver, s: string, pipeline: string): Promise<Map<string, number>> {
  const rows = await db.query(`SELECT source, next_offset FROM ${s}.stream_reach WHERE pipeline = $1`, [pipeline]);
  return new Map(rows.map((r) => [String(r.source), Number(r.next_offset)]));
}
