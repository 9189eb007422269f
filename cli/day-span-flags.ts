import { datesOfDays } from '../jobs/job-ids.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { dayRange } from '../reconcile/day-range.ts';

/**
 * The days of `--from D1 --to D2` (inclusive), each flag checked on its own first: an impossible date
 * (`2026-11-31`) was taken as the next day by the date parser and the range ran from there, and a range
 * given backwards or half was answered with words that named neither flag. Each end is parsed once, here
 * (it was parsed and ordered again by `datesBetween`, whose words name no flag).
 */
export function daySpanFlags(from: unknown, to: unknown, date: unknown): string[] {
  if (date !== undefined && (from !== undefined || to !== undefined)) {
    throw new ConfigError('give --from D1 --to D2 (whole days), or --date D (dirty cells), not both');
  }
  if (from === undefined || to === undefined) {
    const [given, missing, example] = from === undefined ? ['--to', '--from', `--from ${String(to)}`] : ['--from', '--to', `--to ${String(from)}`];
    throw new ConfigError(`${given} ${String(from ?? to)} needs ${missing} too (both days are included: ${example} for that day alone)`);
  }
  const first = dayOf(String(from), '--from'), last = dayOf(String(to), '--to');
  if (first > last) throw new ConfigError(`--from ${String(from)} is after --to ${String(to)}: give the earlier day as --from (both are included)`);
  return datesOfDays(first, last);
}

function dayOf(text: string, flag: string): number {
  try {
    return dayRange(text).from;
  } catch (error) {
    throw new ConfigError(`${flag}: "${text}" is not a date: use YYYY-MM-DD (UTC)`, { cause: error });
  }
}
