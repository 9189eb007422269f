/** Checks a schema's `time_zone`: the zone its `timestamp` strings without Z or an offset are read in. */

import { canonicalTimeZone, knownTimeZones } from '../schemas/time-zones.ts';
import { closest, q, type Problems } from './definitions-problems.ts';

/** The zone's canonical name (`europe/oslo` -> `Europe/Oslo`: one zone, one definition version), or undefined. */
export function parseTimeZone(p: Problems, path: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const zone = typeof value === 'string' && value.trim() === value && value !== '' ? canonicalTimeZone(value) : undefined;
  if (zone !== undefined) return zone;
  const meant = typeof value === 'string' ? closest(value.trim(), knownTimeZones()) : undefined;
  p.add(path, `unknown time zone ${q(value)}${meant === undefined ? '' : ` (did you mean ${q(meant)}?)`}; use an IANA name like "Europe/Oslo" or "America/New_York", or "UTC"`);
  return undefined;
}
