import { datesBetween, finalDateAt, nightlyDates } from './job-ids.ts';
import type { StoreNights } from './missed-nights.ts';

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
 * a record (first run, Redis emptied) it takes `nightlyDates` of its scheduled time. The nights missed
 * before Redis lost the record are the store's to say (`withStoreNights`).
 */
export function planNightly(run: NightlyRun): NightlyPlan {
  const scheduled = nightlyDates(run.at, run.timeZone, run.cron, run.finalAt);
  const last = newestDate(run, scheduled);
  let first = scheduled[0]!;
  if (run.through !== undefined) {
    const next = new Date(Date.parse(`${run.through}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
    if (next < first) first = next;
  }
  const all = datesBetween(first, last);
  const keep = Math.max(1, run.maxDays);
  return { dates: all.slice(-keep), leftOut: all.slice(0, Math.max(0, all.length - keep)) };
}

/** The newest date a run takes: the newest final by its clock, or its scheduled night's when later. */
function newestDate(run: NightlyRun, scheduled = nightlyDates(run.at, run.timeZone, run.cron, run.finalAt)): string {
  const finalNow = run.now > run.at ? finalDateAt(run.now, run.timeZone, run.finalAt) : scheduled.at(-1)!;
  return finalNow > scheduled.at(-1)! ? finalNow : scheduled.at(-1)!;
}

/** The dates a run may reach back to: the `maxDays` dates through its newest (CONCORD_NIGHTLY_CATCHUP_DAYS). */
export function catchUpWindow(run: NightlyRun): string[] {
  const last = newestDate(run);
  const first = new Date(Date.parse(`${last}T00:00:00.000Z`) - (Math.max(1, run.maxDays) - 1) * 86_400_000).toISOString().slice(0, 10);
  return datesBetween(first, last);
}

export interface StorePlan {
  /** The dates to enqueue a reconcile of, oldest first (may be none: every one was done). */
  dates: string[];
  /** Every date the run handles, done ones included: the range its backfills cover and its record moves to. */
  considered: string[];
  /** Dates of `considered` the store holds a reconciled version of: not enqueued again. */
  reconciled: string[];
  /** Dates taken from the store's record only (Redis did not name them): said in the log. */
  fromStore: string[];
}

/**
 * The plan with the store's record of the window (jobs/missed-nights.ts): Redis' record of the nights
 * enqueued is lost with Redis' data, the store's is not. The run takes the plan's dates and every date
 * of the window the store has stream rows of, no reconciled version, and the archive holds; a date the
 * store holds a reconciled version of is not enqueued again, whichever record named it.
 */
export function withStoreNights(plan: NightlyPlan, nights: StoreNights): StorePlan {
  const planned = new Set(plan.dates);
  const considered = [...new Set([...plan.dates, ...nights.missing])].sort();
  return {
    dates: considered.filter((d) => !nights.done.has(d)),
    considered,
    reconciled: considered.filter((d) => nights.done.has(d)),
    fromStore: nights.missing.filter((d) => !planned.has(d)),
  };
}
