/**
 * Time zone abbreviations (EST, IST, BST, ...) are no zones: one names several (IST is India, Israel and
 * Ireland), and the standard ones the runtime knows as legacy names mean another thing than a user
 * writing them does (IANA's EST is UTC-05:00 all year, not New York; ICU takes BST for Bangladesh).
 * Java's `ZoneId.of` and Flink refuse most of them. Concord refuses them all, in a schema's `time_zone`
 * and at the end of an event's time, naming the zones meant. The legacy names that do mean what they
 * say stay accepted: `EST5EDT` (New York's rules), `CET` (with summer time), `GB`, `Japan`, `US/Eastern`.
 */

import { canonicalTimeZone } from './time-zones.ts';

interface Abbreviation {
  /** The places it is said for, each with its IANA zone, the most likely first. */
  readonly meant: readonly (readonly [place: string, zone: string])[];
  /** A standard time the runtime takes for a zone without daylight saving: the offset it is all year. */
  readonly fixed?: string;
}

const of = (fixed: string | undefined, ...meant: [string, string][]): Abbreviation => (fixed === undefined ? { meant } : { meant, fixed });

/** Abbreviations a runtime's time zone data (ICU's Java-compatible IDs, IANA's legacy names) takes as a zone. */
const LEGACY: Readonly<Record<string, Abbreviation>> = {
  EST: of('-05:00', ['New York', 'America/New_York']),
  MST: of('-07:00', ['Denver', 'America/Denver'], ['Arizona', 'America/Phoenix']),
  HST: of('-10:00', ['Hawaii', 'Pacific/Honolulu'], ['the Aleutians', 'America/Adak']),
  IST: of(undefined, ['India', 'Asia/Kolkata'], ['Israel', 'Asia/Jerusalem'], ['Ireland', 'Europe/Dublin']),
  BST: of(undefined, ['the UK', 'Europe/London'], ['Bangladesh', 'Asia/Dhaka']),
  AST: of(undefined, ['Atlantic Canada', 'America/Halifax'], ['Puerto Rico', 'America/Puerto_Rico'], ['Arabia', 'Asia/Riyadh'], ['Alaska', 'America/Anchorage']),
  CST: of(undefined, ['Chicago', 'America/Chicago'], ['China', 'Asia/Shanghai'], ['Cuba', 'America/Havana']),
  PST: of(undefined, ['Los Angeles', 'America/Los_Angeles']),
  SST: of(undefined, ['Samoa', 'Pacific/Pago_Pago'], ['Singapore', 'Asia/Singapore']),
  NST: of(undefined, ['Newfoundland', 'America/St_Johns'], ['New Zealand', 'Pacific/Auckland']),
  ECT: of(undefined, ['Ecuador', 'America/Guayaquil'], ['Central Europe', 'Europe/Paris']),
  ART: of(undefined, ['Argentina', 'America/Argentina/Buenos_Aires'], ['Egypt', 'Africa/Cairo']),
  ACT: of(undefined, ['Darwin', 'Australia/Darwin'], ['Canberra', 'Australia/Sydney']),
  AET: of(undefined, ['Sydney', 'Australia/Sydney']),
  AGT: of(undefined, ['Argentina', 'America/Argentina/Buenos_Aires']),
  BET: of(undefined, ['Brazil', 'America/Sao_Paulo']),
  CAT: of(undefined, ['Central Africa', 'Africa/Maputo']),
  CNT: of(undefined, ['Newfoundland', 'America/St_Johns']),
  CTT: of(undefined, ['China', 'Asia/Shanghai']),
  EAT: of(undefined, ['East Africa', 'Africa/Nairobi']),
  IET: of(undefined, ['Indiana', 'America/Indiana/Indianapolis']),
  JST: of(undefined, ['Japan', 'Asia/Tokyo']),
  MIT: of(undefined, ['Samoa', 'Pacific/Apia']),
  NET: of(undefined, ['Armenia', 'Asia/Yerevan']),
  PLT: of(undefined, ['Pakistan', 'Asia/Karachi']),
  PNT: of(undefined, ['Arizona', 'America/Phoenix']),
  PRT: of(undefined, ['Puerto Rico', 'America/Puerto_Rico']),
  VST: of(undefined, ['Vietnam', 'Asia/Ho_Chi_Minh']),
};

/** Daylight-saving abbreviations no runtime knows as a zone, as the zone a producer writing them most likely runs in. */
const SUMMER: Readonly<Record<string, Abbreviation>> = {
  EDT: of(undefined, ['New York', 'America/New_York']), CDT: of(undefined, ['Chicago', 'America/Chicago']),
  MDT: of(undefined, ['Denver', 'America/Denver']), PDT: of(undefined, ['Los Angeles', 'America/Los_Angeles']),
  AKDT: of(undefined, ['Alaska', 'America/Anchorage']), CEST: of(undefined, ['Berlin', 'Europe/Berlin']),
  EEST: of(undefined, ['Helsinki', 'Europe/Helsinki']), WEST: of(undefined, ['Lisbon', 'Europe/Lisbon']),
  AEST: of(undefined, ['Sydney', 'Australia/Sydney']), AEDT: of(undefined, ['Sydney', 'Australia/Sydney']),
  NZDT: of(undefined, ['New Zealand', 'Pacific/Auckland']),
};

/** `name`'s entry in `table`, whatever its case and surrounding spaces; own entries only. */
const entry = (table: Readonly<Record<string, Abbreviation>>, name: string): Abbreviation | undefined => {
  const key = name.trim().toUpperCase();
  return Object.hasOwn(table, key) ? table[key] : undefined;
};

const lookup = (name: string): Abbreviation | undefined => entry(LEGACY, name) ?? entry(SUMMER, name);

/** The zone a daylight-saving abbreviation the runtime does not know most likely means (`EDT` -> America/New_York). */
export function summerZoneMeant(name: string): string | undefined {
  return entry(SUMMER, name)?.meant[0]![1];
}

/** `for New York write "America/New_York", for ... "..."`. */
const zonesMeant = (a: Abbreviation): string => a.meant.map(([place, zone], i) => `for ${place}${i === 0 ? ' write' : ''} ${JSON.stringify(zone)}`).join(', ');

/**
 * Why an abbreviation the runtime would take as a zone is refused, naming the zones meant, or undefined
 * for a name that is none of them:
 * `"EST" is fixed UTC-05:00 all year (no daylight saving); for New York write "America/New_York", or "-05:00" if a fixed offset is meant`.
 */
export function legacyAbbreviationProblem(name: string): string | undefined {
  const a = entry(LEGACY, name);
  if (a === undefined) return undefined;
  const shown = JSON.stringify(name);
  if (a.fixed !== undefined) return `${shown} is fixed UTC${a.fixed} all year (no daylight saving); ${zonesMeant(a)}, or ${JSON.stringify(a.fixed)} if a fixed offset is meant`;
  const taken = canonicalTimeZone(name);
  const runtime = taken === undefined ? '' : `; this runtime's time zone data would take it for ${JSON.stringify(taken)}`;
  return `${shown} is an abbreviation, no zone (java.time, and so Flink, refuses it too${runtime}): ${zonesMeant(a)}`;
}

/** An ISO time followed by a zone abbreviation: `2026-03-01 10:00 EST`, `2026-03-01T10:00:00EST`. */
const TIME_WITH_ABBREVIATION = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) ?([A-Za-z]{2,5})$/;

/**
 * The reason an event time ending in an abbreviation is refused, or undefined for other text. Such a time
 * is read nowhere (not in events, not in filters): its instant would be a guess.
 */
export function abbreviatedTimeProblem(text: string): string | undefined {
  const m = TIME_WITH_ABBREVIATION.exec(text);
  if (!m) return undefined;
  const time = m[1]!, name = m[2]!;
  if (/^(?:UTC|GMT)$/i.test(name)) return `"${text}" ends in ${JSON.stringify(name)}; write Z for UTC: "${time}Z"`;
  const a = lookup(name);
  const offset = a?.fixed === undefined ? '' : ` (${JSON.stringify(`${time}${a.fixed}`)})`;
  const zones = a === undefined ? 'e.g. "Europe/Oslo"' : a.meant.map(([place, zone]) => `${JSON.stringify(zone)} (${place})`).join(', or ');
  return `"${text}" ends in the zone abbreviation ${JSON.stringify(name)}, which is not read (an abbreviation names no zone for sure); ` +
    `send Z or an offset${offset}, or the time alone with the schema's "time_zone" set to the producer's zone: ${zones}`;
}

/** Whether a time's text ends in a zone abbreviation: read nowhere, so no instant is guessed for it (`Date.parse` reads "10:00 EST"). */
export const endsInZoneAbbreviation = (text: string): boolean => TIME_WITH_ABBREVIATION.test(text);
