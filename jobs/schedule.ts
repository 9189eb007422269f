import { CronExpressionParser } from 'cron-parser'; // BullMQ's own cron parser: what it accepts, the scheduler runs
import { ConfigError } from '../pipeline/errors.ts';

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
  try {
    CronExpressionParser.parse(cron, { tz: timeZone }).next();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`--cron "${cron}" is not a cron expression (${why}): use five fields, minute hour day month weekday, e.g. "0 2 * * *" (env CONCORD_NIGHTLY_CRON)`);
  }
}
