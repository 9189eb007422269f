/**
 * Event times as epoch milliseconds: ISO-8601 (`T` or a space between date and time, as SQL writes it)
 * with a zone, or without one in the schema's `time_zone`, or a JSON number in the schema's
 * `epoch_unit` (docs/definitions.md, "Types"). Each refusal says what to send instead.
 */
import { SchemaViolationError } from '../pipeline/errors.ts';
import { fastIsoMillis, fastWallMillis } from './iso-fast.ts';
import { abbreviatedTimeProblem } from './time-zone-abbreviations.ts';
import { zonedMillis } from './time-zones.ts';
import { describe, plainDecimalText } from './value-text.ts';

/**
 * What a JSON number in a `timestamp` field counts: epoch milliseconds (`ms`, the default), epoch
 * seconds (`s`, up to 3 decimals kept), or either by its size (`auto`: below 10^11 seconds, else
 * milliseconds; the two never meet for times after 1973-03-03).
 */
export type EpochUnit = 'ms' | 's' | 'auto';
export const EPOCH_UNITS: readonly EpochUnit[] = ['ms', 's', 'auto'];

// ISO-8601 or SQL (`2026-11-23 10:00:05.123`). Without a zone the time is read in the schema's
// `time_zone`; without that it is ambiguous and refused, never guessed.
const ISO_TS =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const DIGITS = /^-?\d+$/;
/** Nanoseconds, as Flink's and java.time's formats write at most; digits past milliseconds are cut. */
const MAX_FRACTION_DIGITS = 9;

/** What to do with a time without a zone when the schema has no `time_zone`. */
const NO_ZONE = 'add "time_zone" to the schema (the producer\'s zone, e.g. "Europe/Oslo", or "UTC"), or send Z or an offset like +02:00';

/**
 * Parses an ISO-8601 (or SQL-format) timestamp into epoch ms (sub-ms digits truncated): with `Z` or an
 * offset, or without one in `zone` (a canonical time zone name; undefined: refused).
 */
export function parseIsoTimestamp(text: string, fieldName: string, zone?: string): number {
  const fast = fastIsoMillis(text);
  if (fast >= 0) return fast;
  if (zone !== undefined) {
    const wall = fastWallMillis(text, text.length);
    if (wall >= 0) return zonedMillis(wall, zone);
  }
  return parseIsoTimestampByPattern(text, fieldName, zone);
}

/** `parseIsoTimestamp` for every shape, through the pattern (exported for the fast path's property test). */
export function parseIsoTimestampByPattern(text: string, fieldName: string, zone?: string): number {
  const m = ISO_TS.exec(text);
  if (!m) {
    // Each says what to write instead: "add Z" to a date alone still failed, and "1732440000000" read as "not epoch milliseconds".
    const date = DATE_ONLY.exec(text);
    if (date) {
      const missing = date[1] === undefined ? 'no time of day and no time zone' : 'no time of day';
      throw new SchemaViolationError(fieldName, `"${text}" has ${missing}; write a time with Z or an offset, e.g. "${text.slice(0, 10)}T00:00:00Z"`);
    }
    const abbreviated = abbreviatedTimeProblem(text);
    if (abbreviated !== undefined) throw new SchemaViolationError(fieldName, abbreviated);
    if (DIGITS.test(text)) {
      throw new SchemaViolationError(fieldName, `"${text}" is a string; write epoch milliseconds as a JSON number (${text.slice(0, 20)}), or an ISO-8601 time with Z or an offset`);
    }
    throw new SchemaViolationError(fieldName, `"${text}" is not an ISO-8601 timestamp or epoch milliseconds`);
  }
  const [, y, mo, d, h, mi, s, frac, offset] = m as unknown as string[];
  if (frac !== undefined && frac.length > MAX_FRACTION_DIGITS) {
    throw new SchemaViolationError(fieldName, `"${text}" has ${frac.length} digits after the second; at most ${MAX_FRACTION_DIGITS} (nanoseconds) are read, and those past milliseconds are cut`);
  }
  // Refused before the calendar is read, as before there was a `time_zone`: the same reason for every bad shape.
  if (offset === undefined && zone === undefined) throw new SchemaViolationError(fieldName, `"${text}" has no time zone; ${NO_ZONE}`);
  const year = Number(y), month = Number(mo), day = Number(d);
  // Date.UTC reads years 0..99 as 1900..1999: "0050-01-01" was "not a valid calendar time". Before 1969 no
  // offset reaches 1970 (1969-12-31T20:00-05:00 does, and is judged after the offset).
  if (year < 1969) throw new SchemaViolationError(fieldName, `"${text}" is outside years 1970..9999 (UTC)`);
  const hour = Number(h), minute = Number(mi), second = Number(s ?? '0');
  const millis = Number((frac ?? '').padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day ||
    hour > 23 || minute > 59 || second > 59
  ) {
    throw new SchemaViolationError(fieldName, `"${text}" is not a valid calendar time`);
  }
  if (offset === undefined) return zonedMillis(local, zone!);
  let offsetMinutes = 0;
  if (offset !== 'Z' && offset !== 'z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2)), offsetMins = Number(digits.slice(2, 4) || '0');
    // The pattern takes any two digits: +25:00 or +05:99 moved the event by a day or more, unseen.
    if (offsetHours > 23 || offsetMins > 59) throw new SchemaViolationError(fieldName, `"${text}" has no valid UTC offset (at most +-23:59)`);
    offsetMinutes = sign * (offsetHours * 60 + offsetMins);
  }
  return local - offsetMinutes * 60_000;
}

// Timestamps outside years 1970..9999 are almost certainly unit mistakes (seconds, microseconds).
const MAX_TS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/**
 * 10^11: as epoch seconds 5138 AD, as epoch milliseconds 1973-03-03. A number of milliseconds from 10^9
 * up to here (1970-01-12..1973-03-03) is a number of seconds from 2001 on sent to a field of
 * milliseconds: read as milliseconds, it filed a producer's switch to seconds into January 1970,
 * accepted, late for every window and archived under dt=1970-01-21, with no word of the unit.
 */
const SECONDS_BELOW = 1e11;
const SECONDS_FROM = 1e9;

/**
 * A `timestamp` field's value as epoch ms. `unit`: the schema's `epoch_unit` (numbers); `zone`: its
 * `time_zone`, canonical (strings without Z or an offset; undefined: refused).
 */
export function normaliseTimestamp(value: unknown, name: string, unit: EpochUnit = 'ms', zone?: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (unit === 's' || (unit === 'auto' && Math.abs(value) < SECONDS_BELOW)) return epochSeconds(value, name, unit);
    if (!Number.isInteger(value)) throw new SchemaViolationError(name, `${value} is not an integer number of epoch milliseconds`);
    if (value < 0 || value > MAX_TS) throw new SchemaViolationError(name, `${value} ${finerUnit(value) ?? `is outside years 1970..9999 (epoch ${unit === 'auto' ? 'seconds or milliseconds' : 'milliseconds'} expected)`}`);
    if (unit === 'ms' && value >= SECONDS_FROM && value < SECONDS_BELOW) {
      throw new SchemaViolationError(name, `${value} looks like epoch seconds (${isoOf(value * 1000)}), not milliseconds (${isoOf(value)}); send milliseconds, or set the schema's "epoch_unit" to "s" (or "auto" while both arrive)`);
    }
    return value;
  }
  if (typeof value === 'string') {
    stringOfDigits(value, name, unit);
    const ms = parseIsoTimestamp(value, name, zone);
    // The same years as for numbers (an offset can push 9999-12-31T23:59Z-01:00 past them).
    if (ms < 0 || ms > MAX_TS) throw new SchemaViolationError(name, `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}" is outside years 1970..9999 (UTC)`);
    return ms;
  }
  throw new SchemaViolationError(name, `expected epoch ${unit === 'ms' ? 'milliseconds' : unit === 's' ? 'seconds' : 'seconds or milliseconds'} or an ISO-8601 string, got ${describe(value)}`);
}

/**
 * A string of digits is refused with what to send in the schema's unit: under "ms" a string of seconds
 * was told to be sent as that JSON number, which was then refused as seconds.
 */
function stringOfDigits(value: string, name: string, unit: EpochUnit): void {
  if (!DIGITS.test(value)) return;
  const n = Number(value), shown = value.length > 20 ? `${value.slice(0, 20)}...` : value;
  const seconds = unit === 's' || (unit === 'auto' && Math.abs(n) < SECONDS_BELOW) || (unit === 'ms' && n >= SECONDS_FROM && n < SECONDS_BELOW);
  if (unit === 'ms' && seconds) {
    throw new SchemaViolationError(name, `"${shown}" is a string, and epoch seconds by its size; send epoch milliseconds as a JSON number (${shown}000) or an ISO-8601 time with Z or an offset, or set the schema's "epoch_unit" to "s"`);
  }
  throw new SchemaViolationError(name, `"${shown}" is a string; write epoch ${seconds ? 'seconds' : 'milliseconds'} as a JSON number (${shown}), or an ISO-8601 time with Z or an offset`);
}

/** Epoch seconds as milliseconds, exact from the number's text (1796112040.123 -> 1796112040123; digits past ms cut, as ISO's are). */
function epochSeconds(value: number, name: string, unit: EpochUnit): number {
  if (!Number.isFinite(value)) throw new SchemaViolationError(name, `${value} is not a finite number of epoch seconds`);
  // In `s`, a number from 10^11 on (5138 AD) is milliseconds sent to a field of seconds (the mirror of the check in ms).
  if (unit === 's' && value >= SECONDS_BELOW) {
    throw new SchemaViolationError(name, `${value} looks like epoch milliseconds (${value <= MAX_TS ? isoOf(value) : 'past 9999'}), not seconds; send seconds, or set the schema's "epoch_unit" to "ms" (or "auto" while both arrive)`);
  }
  const [whole = '0', fraction = ''] = plainDecimalText(value).split('.');
  const ms = Number(whole) * 1000 + (whole.startsWith('-') ? -1 : 1) * Number(fraction.padEnd(3, '0').slice(0, 3));
  if (ms < 0 || ms > MAX_TS) throw new SchemaViolationError(name, `${value} is outside years 1970..9999 (epoch seconds expected)`);
  return ms === 0 ? 0 : ms;
}

const isoOf = (ms: number): string => new Date(ms).toISOString();

/**
 * A number past 9999 as milliseconds that is a time from 2001 on in microseconds or nanoseconds (a
 * producer on Python's time.time_ns() or Go's UnixMicro): said so, as seconds from 2001 on are; the
 * reason was only "outside years 1970..9999 (epoch milliseconds expected)". From 2001 as for seconds:
 * a smaller number (year 10000 in milliseconds, 2.5e14) is no likelier microseconds of 1978.
 */
function finerUnit(value: number): string | undefined {
  for (const [unit, per] of [['microseconds', 1e3], ['nanoseconds', 1e6]] as const) {
    const ms = Math.floor(value / per);
    if (ms >= SECONDS_FROM * 1000 && ms <= MAX_TS) return `looks like epoch ${unit} (${isoOf(ms)}), not milliseconds; send milliseconds`;
  }
  return undefined;
}
