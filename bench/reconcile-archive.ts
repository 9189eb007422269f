import { partitionGlob } from '../batch/archive-layout.ts';
import { DuckDb, quoteString } from '../batch/duckdb.ts';
import { replay } from '../batch/replay.ts';
import { pageViewsPerMinute } from '../examples/seed.ts';
import { reconcile, type LoggedLate } from '../reconcile/reconcile.ts';
import { clicksSchema } from '../examples/seed.ts';
import type { Figure } from './measure.ts';

/** One delivery in this many the "workers" judged late (0.1%: a day with a busy offline-mobile tail). */
export const LATE_EVERY = 1_000;

/**
 * The workers' late log for a synthetic archive: every LATE_EVERY-th delivery, as `concord.late` records
 * (event, position, the W it met, its window).
 */
async function lateLogOf(dir: string): Promise<LoggedLate[]> {
  const db = await DuckDb.open();
  try {
    const c = await db.columns(`SELECT event_id, epoch_ms(ts)::DOUBLE AS ts, url, visitor_id, _source, _offset::DOUBLE AS o
      FROM read_parquet(${quoteString(partitionGlob(dir, clicksSchema))}, hive_partitioning = false) WHERE _offset % ${LATE_EVERY} = 7`);
    const size = pageViewsPerMinute.kind === 'windowed' ? pageViewsPerMinute.window.size : 60_000;
    return (c.event_id ?? []).map((id, i) => {
      const ts = c.ts![i] as number;
      const windowStart = ts - (ts % size);
      return {
        evaluatedOnArrival: false,
        record: {
          pipeline: pageViewsPerMinute.name, event: { event_id: String(id), ts, url: String(c.url![i]), visitor_id: String(c.visitor_id![i]) },
          position: { source: String(c._source![i]), offset: c.o![i] as number }, watermark: windowStart + size + 600_000, windowStart, windowEnd: windowStart + size,
        },
      };
    });
  } finally {
    db.close();
  }
}

/**
 * Reconcile page views over a synthetic one-day archive of `n` events. The realtime side is what the
 * workers produced: the replay without the deliveries in their late log (set up outside the timer).
 * Timer: `reconcile()` from its call to the report (replay, evidence, the diff of every cell, attribution).
 */
export async function reconcileArchive(dir: string, n: number, options: { withoutLateLog: boolean }): Promise<Figure[]> {
  const lateLog = await lateLogOf(dir);
  const realtime = await replay(pageViewsPerMinute, dir, { exclude: lateLog.map((l) => l.record.position) });
  const figures: Figure[] = [];
  let t = performance.now();
  const logged = await reconcile({ def: pageViewsPerMinute, realtime, archiveDir: dir, lateLog });
  const note = (r: typeof logged) => `${r.cells.toLocaleString('en-US')} cells, ${r.different.toLocaleString('en-US')} different, ${r.unexplained} unexplained`;
  figures.push({ metric: 'reconcile page views, with the workers\' late log (0.1% late)', events: n, seconds: (performance.now() - t) / 1000, target: '100M events <= 60 s', note: note(logged) });
  if (logged.unexplained > 0) throw new Error(`reconcile benchmark: ${logged.unexplained} unexplained differences (a bug)`);
  if (options.withoutLateLog) {
    // The file path: the stream semantics re-run in JS over every event in arrival order. Nothing in
    // the synthetic archive is late in arrival order, so the realtime side here is the whole replay.
    const complete = await replay(pageViewsPerMinute, dir);
    t = performance.now();
    const report = await reconcile({ def: pageViewsPerMinute, realtime: complete, archiveDir: dir });
    figures.push({ metric: 'reconcile page views without a late log (arrival-order shadow run in JS)', events: n, seconds: (performance.now() - t) / 1000, target: '-', note: note(report) });
  }
  return figures;
}
