import { dayStart } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';

/** What the store says of a pipeline's days, for the nightly catch-up (jobs/missed-nights.ts). */
export interface NightRecord {
  /** Days a reconciled version was ever published for (reverted ones too: a revert is a choice), or the retention pruned. */
  reconciled: Set<string>;
  /** Days the stream wrote rows of (version 0): what a reconcile compares the replay with. */
  streamed: Set<string>;
}

/**
 * The store's record of the days `from`..`to` (inclusive) of `pipeline`: the durable answer to "which
 * nights were done", whatever Redis remembers. Done is a `day_versions` row (every published version is
 * 1 or higher, kept through reverts), as `DayVersions.reconciledBefore` counts it, or a pruned day.
 * Three statements, whatever the number of days.
 */
export async function nightRecord(db: SqlDriver, s: string, pipeline: string, from: string, to: string): Promise<NightRecord> {
  const published = await db.query(`SELECT DISTINCT day FROM ${s}.day_versions WHERE pipeline = $1 AND day >= $2 AND day <= $3`, [pipeline, from, to]);
  // A store last written before retention existed has no `pruned_days` table: nothing was pruned.
  const table = await db.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'pruned_days'`, [s]);
  const pruned = Number(table[0]?.n ?? 0) === 0 ? []
    : await db.query(`SELECT day FROM ${s}.pruned_days WHERE pipeline = $1 AND day >= $2 AND day <= $3`, [pipeline, from, to]);
  // By window start, as the stream's rows are read (a day's rows are the windows starting in it).
  const streamed = await db.query(`SELECT DISTINCT day FROM ${s}.result_rows WHERE pipeline = $1 AND generation = 0 AND window_start >= $2 AND window_start < $3`,
    [pipeline, dayStart(from), dayStart(to) + 86_400_000]);
  return {
    reconciled: new Set([...published, ...pruned].map((r) => String(r.day))),
    streamed: new Set(streamed.map((r) => String(r.day))),
  };
}
