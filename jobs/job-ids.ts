import { CronExpressionParser } from 'cron-parser';
import { ConcordError } from '../pipeline/errors.ts';
import { dayRange } from '../reconcile/day-range.ts';

/**
 * Job identities: derived from (kind, pipeline, date), so enqueueing the same work twice is one job
 * (BullMQ keeps a job id unique). A deliberate rerun (`--force`) gets a run suffix. BullMQ forbids ':'
 * in custom ids, hence '__'.
 */
export type JobKind = 'reconcile' | 'backfill';

export function jobId(kind: JobKind, pipeline: string, date: string, run?: string): string {
  return [kind, pipeline, date, ...(run ? [run] : [])].join('__');
}

/** The key of the per-(pipeline, date) lock: reconcile and backfill of one day never run at once. */
export function lockKey(prefix: string, pipeline: string, date: string): string {
  return `${prefix}:lock:${pipeline}:${date}`;
}

/** The calendar date of `ms` in `timeZone`, YYYY-MM-DD. */
export function dateIn(ms: number, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
  } catch (error) {
    throw new ConcordError(`time zone "${timeZone}" is unknown: use an IANA name such as UTC or Europe/Paris`, { domain: 'user', cause: error });
  }
}

/**
 * What a nightly run reconciles: the date before the date of `ms` in `timeZone`, but never a UTC day that
 * has not ended (days are UTC: at 02:00 in Tokyo, the 17:00 UTC of the day before, that day runs 7 hours more).
 */
export function previousDate(ms: number, timeZone = 'UTC'): string {
  const before = (date: string) => new Date(Date.parse(`${date}T00:00:00.000Z`) - 86_400_000).toISOString().slice(0, 10);
  const local = before(dateIn(ms, timeZone));
  const lastEndedUtc = before(new Date(ms).toISOString().slice(0, 10));
  return local < lastEndedUtc ? local : lastEndedUtc;
}

/**
 * The dates a scheduled nightly run at `ms` reconciles: `previousDate(ms)`, and every date after the one
 * the schedule's run before (`cron`, in `timeZone`) reconciled. Daily runs are 23 or 25 hours apart across
 * a DST change, and `previousDate` then moves by two dates in some zones and hours (e.g. 01:30
 * Europe/Berlin, 00:30 Europe/Lisbon at the end of October: the 24th would be skipped); the run after
 * such a change takes the skipped date too. Without `cron`: the one date.
 *
 * `finalAt` (the pipeline's `dayFinalAt`): a date whose results are not final at the run is left to a
 * later run: a 24 h window every hour keeps a day's last window open until 23:00 the next day, and a
 * run at 02:00 would publish it from a partial archive (the run takes the date before, then).
 */
export function nightlyDates(ms: number, timeZone = 'UTC', cron?: string, finalAt?: (date: string) => number): string[] {
  const last = finalDateAt(ms, timeZone, finalAt);
  if (cron === undefined) return [last];
  let before: number;
  try {
    before = CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date(ms) }).prev().getTime();
  } catch {
    before = ms - 25 * 3_600_000; // the parser gives up on some DST changes (America/Santiago, 00:30): a day's run before, at most 25 h
  }
  const done = finalDateAt(before, timeZone, finalAt);
  if (done >= last) return [last];
  return datesBetween(dayAfter(done), last);
}

const dayAfter = (date: string) => new Date(Date.parse(`${date}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
const dayBefore = (date: string) => new Date(Date.parse(`${date}T00:00:00.000Z`) - 86_400_000).toISOString().slice(0, 10);

/** The newest date a run at `ms` reconciles: `previousDate`, or the latest before it whose results are final by `ms`. */
export function finalDateAt(ms: number, timeZone: string, finalAt?: (date: string) => number): string {
  let date = previousDate(ms, timeZone);
  // A window longer than a day keeps its day open a while: at most its size (a year of days at most).
  for (let n = 0; finalAt !== undefined && finalAt(date) > ms && n < 366; n++) date = dayBefore(date);
  return date;
}

/**
 * Every date from `from` to `to`, inclusive. Each end is checked as a calendar day (`dayRange`): the date
 * parser took `2026-11-31` as 2026-12-01 and the range ran from there.
 */
export function datesBetween(from: string, to: string): string[] {
  const a = dayRange(from).from, b = dayRange(to).from;
  if (b < a) throw new ConcordError(`dates ${from}..${to}: the first is after the last: give the earlier one first (both are included)`, { domain: 'user' });
  return datesOfDays(a, b);
}

/**
 * The dates of the days starting at `first` through `last` (UTC day starts, epoch ms, as `dayRange` gives
 * them; none if `last` is before `first`): for a caller that checked its ends itself (cli/day-span-flags.ts).
 */
export function datesOfDays(first: number, last: number): string[] {
  const out: string[] = [];
  for (let t = first; t <= last; t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}
