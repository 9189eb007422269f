import { dayStart } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';

/** What the store says of some days of a pipeline, for the nightly catch-up (jobs/missed-nights.ts). */
export interface NightRecord {
  /** Days a reconciled version was ever published for (reverted ones too: a revert is a choice), or the retention pruned. */
  reconciled: Set<string>;
  /** Days not reconciled the stream wrote rows of (version 0): what a reconcile compares the replay with. */
  streamed: Set<string>;
}

/**
 * The store's record of `dates` (YYYY-MM-DD, oldest first) of `pipeline`: the durable answer to "which
 * nights were done", whatever Redis remembers. Done is a `day_versions` row (every published version is
 * 1 or higher, kept through reverts), as `DayVersions.reconciledBefore` counts it, or a pruned day.
 * Stream rows are looked for in the days not done only, one row each (a month of a day's cells is no read
 * to make every night).
 */
export async function nightRecord(db: SqlDriver, s: string, pipeline: string, dates: readonly string[]): Promise<NightRecord> {
  if (dates.length === 0) return { reconciled: new Set(), streamed: new Set() };
  const [from, to] = [dates[0]!, dates.at(-1)!];
  const published = await db.query(`SELECT DISTINCT day FROM ${s}.day_versions WHERE pipeline = $1 AND day >= $2 AND day <= $3`, [pipeline, from, to]);
  // A store last written before retention existed has no `pruned_days` table: nothing was pruned.
  const table = await db.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'pruned_days'`, [s]);
  const pruned = Number(table[0]?.n ?? 0) === 0 ? []
    : await db.query(`SELECT day FROM ${s}.pruned_days WHERE pipeline = $1 AND day >= $2 AND day <= $3`, [pipeline, from, to]);
  const reconciled = new Set([...published, ...pruned].map((r) => String(r.day)).filter((d) => dates.includes(d)));
  const streamed = new Set<string>();
  for (const day of dates) {
    if (reconciled.has(day)) continue;
    // By window start, as the stream's rows are read (a day's rows are the windows starting in it).
    const rows = await db.query(`SELECT 1 AS one FROM ${s}.result_rows WHERE pipeline = $1 AND generation = 0 AND window_start >= $2 AND window_start < $3 LIMIT 1`,
      [pipeline, dayStart(day), dayStart(day) + 86_400_000]);
    if (rows.length > 0) streamed.add(day);
  }
  return { reconciled, streamed };
}
