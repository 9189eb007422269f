import { CronExpressionParser } from 'cron-parser'; // BullMQ's own cron parser: what it accepts, the scheduler runs
import { ConfigError } from '../pipeline/errors.ts';
import { legacyAbbreviationProblem } from '../schemas/time-zone-abbreviations.ts';

/**
 * Checks the nightly schedule before it is stored: a time zone Intl knows (IANA name) and a cron
 * expression of five or six fields that yields a next run. Errors name the option and say what to use.
 */
export function validateSchedule(cron: string, timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone });
  } catch {
    throw new ConfigError(`--tz "${timeZone}" is not a time zone: use an IANA name such as UTC or Europe/Paris (env CONCORD_NIGHTLY_TZ)`);
  }
  // As a schema's time_zone: "EST" would run the job at 02:00 Panama time all year, an hour off New York's in summer.
  const abbreviation = legacyAbbreviationProblem(timeZone);
  if (abbreviation !== undefined) throw new ConfigError(`--tz ${abbreviation} (env CONCORD_NIGHTLY_TZ)`);
  try {
    CronExpressionParser.parse(cron, { tz: timeZone }).next();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`--cron "${cron}" is not a cron expression (${why}): use five fields, minute hour day month weekday, e.g. "0 2 * * *" (env CONCORD_NIGHTLY_CRON)`);
  }
  // The parser fills missing fields with `*`: "0 2 * *" would run every minute of 2 January, "2" every minute of Tuesdays.
  const fields = cron.trim().split(/\s+/).filter(Boolean).length;
  if (fields !== 5 && fields !== 6 && !cron.trim().startsWith('@')) {
    throw new ConfigError(`--cron "${cron}" has ${fields} field${fields === 1 ? '' : 's'}: use five, minute hour day month weekday, e.g. "0 2 * * *" (or six, seconds first) (env CONCORD_NIGHTLY_CRON)`);
  }
}

/** A run time for people: UTC, and the wall-clock time in the schedule's zone when that is another. */
export function describeRunTime(at: number, timeZone: string): string {
  const utc = new Date(at).toISOString();
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return utc;
  // sv-SE writes `YYYY-MM-DD HH:MM`; the zone's abbreviation shows which side of a DST change it is.
  const local = new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' }).format(at);
  const zone = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value;
  return `${utc} (${local} ${timeZone}${zone ? `, ${zone}` : ''})`;
}
