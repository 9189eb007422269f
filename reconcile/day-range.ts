import { ConcordError } from '../pipeline/errors.ts';

/** Days are UTC dates, `YYYY-MM-DD`; a window (alert) belongs to the day its start (ts) falls in. */
export function dayRange(date: string): { from: number; to: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const from = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || new Date(from).toISOString().slice(0, 10) !== date) {
    throw new ConcordError(`"${date}" is not a date: use YYYY-MM-DD (UTC)`, { domain: 'user' });
  }
  return { from, to: from + 86_400_000 };
}
