/**
 * What a window key a Flink user writes means here, when it is none of ours: a `time_zone` (Flink SQL's
 * windows follow the session's zone; ours are fixed offsets from UTC) and `every` on a tumbling window.
 */

import { canonicalTimeZone, formatUtcOffset, yearUtcOffsets } from '../schemas/time-zones.ts';
import { q, type Problems } from './definitions-problems.ts';
import { formatDuration, parseDuration, type Millis } from './time.ts';

const ZONE_KEYS = ['time_zone', 'timezone', 'timeZone', 'zone', 'tz'];

/** Reports the window keys it has advice for; returns them, for the unknown-key check to skip. */
export function reportWindowKeyHints(p: Problems, path: string, w: Record<string, unknown>, kind: 'tumbling' | 'hopping'): string[] {
  const reported: string[] = [];
  for (const key of ZONE_KEYS.filter((k) => Object.hasOwn(w, k))) {
    reported.push(key);
    p.add(path, `windows have no ${q(key)}: they start at fixed offsets from UTC and do not follow daylight saving time` +
      `${localOffsets(w[key], stepOf(w, kind))}; the schema's "time_zone" only says how a time without a zone is read`);
  }
  if (kind === 'tumbling' && Object.hasOwn(w, 'every')) {
    reported.push('every');
    p.add(path, `a tumbling window has no "every"; for windows that overlap write {"hopping": ${q(w.tumbling)}, "every": ${q(w.every)}}`);
  }
  return reported;
}

function stepOf(w: Record<string, unknown>, kind: 'tumbling' | 'hopping'): Millis | undefined {
  const step = kind === 'tumbling' ? w.tumbling : w.every;
  try {
    return typeof step === 'string' || typeof step === 'number' ? parseDuration(String(step)) : undefined;
  } catch {
    return undefined; // its own problem is reported where it is
  }
}

/** The offsets that align windows stepping by `step` to the zone's local time, one per UTC offset it has in a year. */
function localOffsets(zone: unknown, step: Millis | undefined): string {
  const name = typeof zone === 'string' ? zone.trim() : '';
  if (canonicalTimeZone(name) === undefined || step === undefined || step <= 0) return '';
  const year = new Date().getUTCFullYear();
  const utcOffsets = yearUtcOffsets(name, year);
  const each = utcOffsets.map((utc) => {
    const offset = -utc % step; // Flink's window offset is the negative of the zone's UTC offset
    const written = offset === 0 ? 'no "offset"' : `"offset": "${offset < 0 ? '-' : ''}${formatDuration(Math.abs(offset))}"`;
    return utcOffsets.length === 1 ? `${written} (UTC${formatUtcOffset(utc)} all year)` : `${written} while it is at UTC${formatUtcOffset(utc)}`;
  });
  const change = utcOffsets.length > 1 ? ' (a new definition version at each change)' : '';
  return `. Windows stepping by ${q(formatDuration(step))} aligned to local time in ${q(name)} take ${each.join(' and ')}${change}`;
}
