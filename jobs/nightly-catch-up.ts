import { datesBetween, finalDateAt, nightlyDates } from './job-ids.ts';

export interface NightlyRun {
  /** When the scheduler meant the run (the job's timestamp + delay). */
  at: number;
  /** The worker's clock when the run starts: later than `at` when no worker ran at `at` (an outage). */
  now: number;
  timeZone: string;
  cron?: string;
  finalAt?: (date: string) => number;
  /** The newest date the nightly runs enqueued before (`<prefix>:nightly:through`), if known. */
  through?: string;
  /** At most this many dates per run (CONCORD_NIGHTLY_CATCHUP_DAYS). */
  maxDays: number;
}

export interface NightlyPlan {
  dates: string[];
  /** Dates a run should have taken but the cap left out, oldest first: said in the log with the command to enqueue them. */
  leftOut: string[];
}

/**
 * The dates a nightly run enqueues. BullMQ keeps one delayed job per scheduler: after an outage the
 * worker runs the first missed night late, once, and schedules the next night from its restart, so the
 * nights in between never run. A run therefore takes every date from the one after the newest date the
 * nightly runs enqueued (`through`) to the newest date final by its clock (`now`), oldest first; without
 * a record (first run, Redis emptied) it takes `nightlyDates` of its scheduled time, as before.
 */
export function planNightly(run: NightlyRun): NightlyPlan {
  const scheduled = nightlyDates(run.at, run.timeZone, run.cron, run.finalAt);
  const finalNow = run.now > run.at ? finalDateAt(run.now, run.timeZone, run.finalAt) : scheduled.at(-1)!;
  const last = finalNow > scheduled.at(-1)! ? finalNow : scheduled.at(-1)!;
  let first = scheduled[0]!;
  if (run.through !== undefined) {
    const next = new Date(Date.parse(`${run.through}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
    if (next < first) first = next;
  }
  const all = datesBetween(first, last);
  const keep = Math.max(1, run.maxDays);
  return { dates: all.slice(-keep), leftOut: all.slice(0, Math.max(0, all.length - keep)) };
}
