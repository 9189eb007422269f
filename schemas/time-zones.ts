/**
 * Wall-clock times of a named time zone (a schema's `time_zone`) as instants, through the runtime's
 * Intl time zone data (no dependency). A local time in a zone's gap or overlap is resolved as
 * java.time's `ZonedDateTime.of` does (and Flink with it, and Temporal's "compatible"):
 * - in the skipped hour (spring forward), shifted forward by the gap's length: 02:30 in Oslo on the
 *   last Sunday of March is 03:30 +02:00;
 * - in the repeated hour (fall back), the earlier offset, the earlier instant: 02:30 in Oslo on the
 *   last Sunday of October is 02:30 +02:00 (00:30Z), never the second 02:30 +01:00.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Hours of offsets kept per zone: a stream's events cluster around now, so this is rarely reached. */
const CACHED_HOURS = 100_000;

interface Zone {
  readonly format: Intl.DateTimeFormat;
  /** UTC hour (epoch ms / 1h) -> the zone's offset in ms through that hour, or NaN: a transition falls inside it. */
  readonly hours: Map<number, number>;
}

const zones = new Map<string, Zone>();

/**
 * The zone's canonical name (`europe/oslo` -> `Europe/Oslo`, `US/Eastern` -> `America/New_York`,
 * `Etc/UTC` -> `UTC`), or undefined when the runtime knows no such zone.
 */
export function canonicalTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined; // RangeError: invalid time zone
  }
}

/** The IANA names the runtime knows (for "did you mean"). */
export function knownTimeZones(): readonly string[] {
  return Intl.supportedValuesOf('timeZone');
}

function zoneOf(name: string): Zone {
  let zone = zones.get(name);
  if (zone === undefined) {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    zones.set(name, (zone = { format, hours: new Map() }));
  }
  return zone;
}

/** The zone's offset from UTC at instant `t` (ms, whole seconds), from Intl: some microseconds a call. */
function offsetFromIntl(zone: Zone, t: number): number {
  const seconds = Math.floor(t / 1000) * 1000;
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const part of zone.format.formatToParts(seconds)) {
    const v = Number(part.value);
    switch (part.type) {
      case 'year': y = v; break;
      case 'month': mo = v; break;
      case 'day': d = v; break;
      case 'hour': h = v; break;
      case 'minute': mi = v; break;
      case 'second': s = v; break;
    }
  }
  return Date.UTC(y, mo - 1, d, h, mi, s) - seconds; // years 1969.. only: Date.UTC reads 0..99 as 19xx
}

/**
 * The zone's offset at `t`, cached per UTC hour: an hour whose start and end agree has one offset
 * throughout (no zone changes twice within an hour); one with a transition inside (Lord Howe's half
 * hours, old zones' odd minutes) is asked of Intl each time.
 */
function offsetAt(zone: Zone, t: number): number {
  const hour = Math.floor(t / HOUR);
  let offset = zone.hours.get(hour);
  if (offset === undefined) {
    const start = offsetFromIntl(zone, hour * HOUR), end = offsetFromIntl(zone, hour * HOUR + HOUR - 1);
    offset = start === end ? start : Number.NaN;
    if (zone.hours.size >= CACHED_HOURS) zone.hours.clear();
    zone.hours.set(hour, offset);
  }
  return Number.isNaN(offset) ? offsetFromIntl(zone, t) : offset;
}

/**
 * The instant (epoch ms) of a wall-clock time in zone `name` (a name `canonicalTimeZone` took).
 * `wall`: the local fields as if they were UTC (`Date.UTC(y, mo, d, h, mi, s, ms)`). The offsets a day
 * before and after are the two a local time can have (no zone changes its offset twice within two days);
 * each candidate instant is kept when the zone is at that offset then.
 */
export function zonedMillis(wall: number, name: string): number {
  const zone = zoneOf(name);
  const before = offsetAt(zone, wall - DAY), after = offsetAt(zone, wall + DAY);
  if (before === after) return wall - before; // no transition near: the common case
  const early = wall - before, late = wall - after;
  const earlyHolds = offsetAt(zone, early) === before, lateHolds = offsetAt(zone, late) === after;
  if (earlyHolds && lateHolds) return Math.min(early, late); // an overlap (or one offset): the earlier instant
  if (earlyHolds) return early;
  if (lateHolds) return late;
  // In a gap: moved forward by the gap's length (after - before) and read at the later offset.
  return wall - before;
}

/**
 * The UTC offsets (ms) of zone `name` (a name `canonicalTimeZone` took) in `year`: one for a zone without
 * daylight saving, else its standard and its summer offset (mid-January and mid-July: either hemisphere).
 */
export function yearUtcOffsets(name: string, year: number): number[] {
  const zone = zoneOf(name);
  return [...new Set([Date.UTC(year, 0, 15), Date.UTC(year, 6, 15)].map((t) => offsetFromIntl(zone, t)))].sort((a, b) => a - b);
}

/** A UTC offset (ms) as ISO 8601 writes it: `+01:00`, `-05:00`, `+05:30`. */
export function formatUtcOffset(ms: number): string {
  const minutes = Math.abs(ms) / 60_000;
  return `${ms < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
