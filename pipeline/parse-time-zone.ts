/** Checks a schema's `time_zone`: the zone its `timestamp` strings without Z or an offset are read in. */

import { legacyAbbreviationProblem, summerZoneMeant } from '../schemas/time-zone-abbreviations.ts';
import { canonicalTimeZone, knownTimeZones } from '../schemas/time-zones.ts';
import { closest, q, type Problems } from './definitions-problems.ts';

/**
 * The forms accepted, said with every refusal. Etc/GMT's sign is POSIX's, the inverse of ISO 8601's:
 * a user writing "Etc/GMT+5" for UTC+05:00 reads times 10 hours off, so the offset form comes first.
 */
export const ACCEPTED_ZONE_FORMS = 'use an IANA name like "Europe/Oslo" or "America/New_York" (daylight saving included), or "UTC", ' +
  'or a fixed offset without daylight saving like "-05:00" or "+05:30" (also "Etc/GMT+5", whose sign is inverted: it is UTC-05:00)';

/** `UTC-5`, `GMT+05:30`, `+5`: the ISO offset meant ("-05:00"), or undefined when it is no such offset. */
function offsetMeant(value: string): string | undefined {
  const m = /^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$/i.exec(value.trim());
  if (!m) return undefined;
  const hours = Number(m[2]), minutes = Number(m[3] ?? '0');
  if (hours > 14 || minutes > 59) return undefined;
  return `${m[1]}${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
}

/** What the user likely meant, as a "did you mean" clause ('' for no guess). */
function meantText(value: string): string {
  const offset = offsetMeant(value);
  if (offset !== undefined) {
    // Etc/GMT names exist for whole hours only, with the sign inverted.
    const etc = offset.endsWith(':00') && offset !== '+00:00' && offset !== '-00:00' ? ` or "Etc/GMT${offset[0] === '+' ? '-' : '+'}${Number(offset.slice(1, 3))}"` : '';
    return ` (did you mean the fixed offset ${q(offset)}${etc}? a fixed offset has no daylight saving: for local time with it, use the place's IANA name)`;
  }
  const zone = summerZoneMeant(value);
  if (zone !== undefined) return ` (an abbreviation, not a zone: did you mean ${q(zone)}? it switches between standard and daylight time)`;
  const near = closest(value.trim(), knownTimeZones());
  return near === undefined ? '' : ` (did you mean ${q(near)}?)`;
}

/** The zone's canonical name (`europe/oslo` -> `Europe/Oslo`: one zone, one definition version), or undefined. */
export function parseTimeZone(p: Problems, path: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  // Abbreviations the runtime would take as a zone mean another one to most who write them (schemas/time-zone-abbreviations.ts).
  const abbreviation = typeof value === 'string' ? legacyAbbreviationProblem(value) : undefined;
  if (abbreviation !== undefined) {
    p.add(path, abbreviation);
    return undefined;
  }
  const zone = typeof value === 'string' && value.trim() === value && value !== '' ? canonicalTimeZone(value) : undefined;
  if (zone !== undefined) return zone;
  p.add(path, `unknown time zone ${q(value)}${typeof value === 'string' ? meantText(value) : ''}; ${ACCEPTED_ZONE_FORMS}`);
  return undefined;
}
