import { ConcordError } from '../pipeline/errors.ts';

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

/** Every date from `from` to `to`, inclusive. */
export function datesBetween(from: string, to: string): string[] {
  const a = Date.parse(`${from}T00:00:00.000Z`), b = Date.parse(`${to}T00:00:00.000Z`);
  if (!Number.isFinite(a) || !Number.isFinite(b) || b < a) throw new ConcordError(`dates ${from}..${to}: use YYYY-MM-DD with from <= to`, { domain: 'user' });
  const out: string[] = [];
  for (let t = a; t <= b; t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}
