/**
 * The common shapes of an ISO-8601 instant read without the regular expression and Date objects of the
 * general parser (schemas/timestamps.ts): `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DDTHH:MM:SS.mmmZ` (T or space,
 * Z or z, . or ,), and the same without a zone (then read in the schema's `time_zone`). Measured:
 * ~350-500 ns per timestamp through the general parser, the largest part of validating a click event. Anything else, and any text that is not a valid calendar time or falls
 * outside 1970..9999, returns -1: the general parser then decides (and names the error), so both always
 * agree (property test: test/property/iso-fast.test.ts).
 */

/** Two decimal digits at `i`, or -1. */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48, b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const year = m <= 2 ? y - 1 : y;
  const era = Math.floor(year / 400);
  const yoe = year - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Epoch milliseconds of `text` in one of the common shapes, or -1 (not handled here). */
export function fastIsoMillis(text: string): number {
  const n = text.length;
  if (n !== 24 && n !== 20) return -1;
  const z = text.charCodeAt(n - 1);
  if (z !== 90 /* Z */ && z !== 122 /* z */) return -1;
  return fastWallMillis(text, n - 1);
}

/**
 * The first `n` characters of `text`, `YYYY-MM-DD[T ]HH:MM:SS[.mmm]` (n = 19 or 23), as if they were UTC
 * (the wall clock of a time without a zone, or with Z), or -1 (not handled here).
 */
export function fastWallMillis(text: string, n: number): number {
  if (n !== 23 && n !== 19) return -1;
  const t = text.charCodeAt(10);
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || (t !== 84 /* T */ && t !== 32) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return -1;
  const hi = twoDigits(text, 0), lo = twoDigits(text, 2);
  const month = twoDigits(text, 5), day = twoDigits(text, 8);
  const hour = twoDigits(text, 11), minute = twoDigits(text, 14), second = twoDigits(text, 17);
  if (hi < 0 || lo < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return -1;
  const year = hi * 100 + lo;
  if (year < 1970) return -1;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return -1;
  let millis = 0;
  if (n === 23) {
    const dot = text.charCodeAt(19);
    if (dot !== 46 && dot !== 44) return -1;
    const a = text.charCodeAt(20) - 48, b = text.charCodeAt(21) - 48, c = text.charCodeAt(22) - 48;
    if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
    millis = a * 100 + b * 10 + c;
  }
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis;
}
