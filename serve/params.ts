import { createHash } from 'node:crypto';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import { storedCellId, type KeyValues } from '../pipeline/keys.ts';
import type { Registry } from '../pipeline/registry.ts';
import { isoMillis } from '../pipeline/time.ts';
import type { StoredRow } from '../store/rows.ts';
import type { UnavailableReason } from './unavailable.ts';

/**
 * Turning query and path parameters into values the store reads with, and the API's errors. Fastify's
 * JSON schemas check shapes and bounds first; these check what a schema cannot (dates, instants, keys
 * against the pipeline's fields, cursors, range lengths), each failure a 400 naming its parameter.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly parameter: string | undefined;
  readonly hint: string | undefined;
  /** Seconds a client should wait before asking again (a Retry-After header). */
  readonly retryAfter: number | undefined;
  /** Why a 503 was answered (its `reason`). */
  readonly unavailable: UnavailableReason | undefined;
  constructor(status: number, message: string, extra: { parameter?: string; hint?: string; retryAfter?: number; unavailable?: UnavailableReason } = {}) {
    super(message);
    this.status = status;
    this.parameter = extra.parameter;
    this.hint = extra.hint;
    this.retryAfter = extra.retryAfter;
    this.unavailable = extra.unavailable;
  }
}

export const badParameter = (parameter: string, message: string) => new ApiError(400, `${parameter}: ${message}`, { parameter });

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

/**
 * The instants a parameter may name: years 0000..9999. JavaScript dates reach ±8.64e15 ms, but a range
 * is computed from its instant (`from` + 1 h, `window` + 1 ms): one at that edge made an invalid date,
 * and formatting it a 500.
 */
const FIRST_INSTANT = Date.parse('0000-01-01T00:00:00.000Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

/** An instant: ISO 8601 with Z or an offset (`2026-11-23T10:00:00Z`), a UTC date (its midnight), or epoch milliseconds. */
export function parseInstant(parameter: string, text: string): number {
  const ms = /^-?\d{1,16}$/.test(text) ? Number(text)
    : /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/i.test(text) ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : Number.NaN;
  // A `+` in a query string is a space once decoded: `10:00:00+01:00` typed into a URL arrives as
  // `10:00:00 01:00`, and "use an offset" told the user to do what they had done.
  if (!Number.isFinite(ms) && /^\d{4}-\d{2}-\d{2}T[\d:.]+ \d{2}:?\d{2}$/i.test(text)) {
    throw badParameter(parameter, `the offset's + arrived as a space (a + in a URL query means a space): write it %2B (${text.replace(' ', '%2B')}) or use Z`);
  }
  if (!Number.isFinite(ms)) throw badParameter(parameter, 'use an ISO 8601 instant with Z or an offset (2026-11-23T10:00:00Z) or epoch milliseconds');
  if (ms < FIRST_INSTANT || ms > LAST_INSTANT) throw badParameter(parameter, 'use an instant of the years 0000..9999');
  return ms;
}

/** A UTC date, YYYY-MM-DD (a real one). */
export function parseDate(parameter: string, text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || !Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== text) {
    const instant = /^\d{4}-\d{2}-\d{2}T/i.test(text) ? ` (this parameter takes a day, not an instant: ${text.slice(0, 10)})` : '';
    throw badParameter(parameter, `use a UTC date YYYY-MM-DD${instant}`);
  }
  return text;
}

export const dayStartOf = (day: string) => Date.parse(`${day}T00:00:00.000Z`);
export const dayOfMs = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The time range of a query: `date` (that UTC day), or `from` and `to` (to exclusive); without any,
 * the `defaultSpan` up to `end` (the end of the newest data, else now). At most `maxSpan` long.
 */
export function parseRange(q: { date?: string; from?: string; to?: string }, o: { end: number | null; defaultSpan: number; maxSpan: number }): { from: number; to: number } {
  if (q.date !== undefined) {
    if (q.from !== undefined || q.to !== undefined) throw badParameter('date', 'give either date or from/to, not both');
    const from = dayStartOf(parseDate('date', q.date));
    return { from, to: from + DAY };
  }
  const end = o.end ?? Date.now();
  const to = q.to === undefined ? (q.from === undefined ? end : parseInstant('from', q.from) + o.defaultSpan) : parseInstant('to', q.to);
  const from = q.from === undefined ? to - o.defaultSpan : parseInstant('from', q.from);
  if (to <= from) throw badParameter('to', 'must be after from');
  if (to - from > o.maxSpan) throw badParameter('to', `the range from..to is ${formatSpan(to - from)}, over the limit of ${formatSpan(o.maxSpan)}`);
  return { from, to };
}

/** A date range of days, inclusive, at most `maxDays`. */
export function parseDayRange(q: { from?: string; to?: string }, o: { latestDay: string; defaultDays: number; maxDays: number }): { fromDay: string; toDay: string } {
  const toDay = q.to === undefined ? (q.from === undefined ? o.latestDay : dayOfMs(dayStartOf(parseDate('from', q.from)) + (o.defaultDays - 1) * DAY)) : parseDate('to', q.to);
  const fromDay = q.from === undefined ? dayOfMs(dayStartOf(toDay) - (o.defaultDays - 1) * DAY) : parseDate('from', q.from);
  const days = (dayStartOf(toDay) - dayStartOf(fromDay)) / DAY + 1;
  if (days < 1) throw badParameter('to', 'must not be before from');
  if (days > o.maxDays) throw badParameter('to', `${days} days, over the limit of ${o.maxDays}`);
  return { fromDay, toDay };
}

function formatSpan(ms: number): string {
  return ms % DAY === 0 ? `${ms / DAY} days` : ms % HOUR === 0 ? `${ms / HOUR} h` : `${Math.round(ms / 60_000)} min`;
}

/** `live` (what readers see), `realtime` (the stream's own, version 0) or a day version number. */
export function parseVersion(parameter: string, text: string | undefined): 'live' | number {
  if (text === undefined || text === 'live') return 'live';
  if (text === 'realtime') return 0;
  if (/^\d{1,9}$/.test(text)) return Number(text);
  throw badParameter(parameter, 'use live, realtime or a version number (0 = realtime)');
}

interface IntegerSchema { type?: unknown; minimum?: number; maximum?: number; default?: number }

/**
 * Whole-number query parameters (`limit`, `n`, `top`) as plain decimal digits within their bounds, each
 * failure a 400 saying what is allowed. Ajv's coercion read a parameter as JavaScript's Number() does:
 * `limit=1e3`, `0x10`, ` 10` and `+10` were taken as 1000, 16 and 10. `query` is the parsed query before
 * validation (strings); a parameter given twice is left to the schema, which says so.
 */
export function checkWholeNumbers(querySchema: unknown, query: unknown): void {
  const properties = (querySchema as { properties?: Record<string, IntegerSchema> } | undefined)?.properties ?? {};
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const p = properties[name];
    if (p?.type !== 'integer' || typeof value !== 'string') continue;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    const min = p.minimum ?? 0, max = p.maximum ?? Number.MAX_SAFE_INTEGER;
    if (!(n >= min && n <= max)) {
      throw badParameter(name, `use a whole number ${min}..${max}, in decimal digits${p.default === undefined ? '' : ` (default ${p.default})`}`);
    }
  }
}

/**
 * Opaque paging cursors: base64url JSON `{of, after}`, `after` the position (the last row's sort key, or
 * an offset) and `of` a short hash of the listing that issued it: its route, path parameters, and what
 * the position depends on (an order, a filter of an offset's list). A position means nothing in another
 * listing: a /windows cursor given to /alerts, or to another pipeline's /windows, was taken and paged
 * from where it pointed. Cursors issued before 2026-12-07 are the bare position: still taken by any
 * listing of their shape (they name none).
 */
export function encodeCursor(listing: readonly unknown[], after: unknown): string {
  return Buffer.from(JSON.stringify({ of: listingTag(listing), after })).toString('base64url');
}

export function decodeCursor<T>(parameter: string, text: string | undefined, listing: readonly unknown[], check: (v: unknown) => v is T): T | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badParameter(parameter, 'not a cursor this API returned');
  }
  if (check(value)) return value; // a cursor of before 2026-12-07
  const bound = value as { of?: unknown; after?: unknown } | null;
  if (bound === null || typeof bound !== 'object' || typeof bound.of !== 'string') throw badParameter(parameter, 'not a cursor this API returned');
  if (bound.of !== listingTag(listing)) {
    throw new ApiError(400, `${parameter}: belongs to another listing`, {
      parameter, hint: `a cursor pages only the listing that returned it (its route, pipeline, day and order): ask again without ${parameter} for the first page`,
    });
  }
  if (!check(bound.after)) throw badParameter(parameter, 'not a cursor this API returned');
  return bound.after;
}

const listingTag = (listing: readonly unknown[]) => createHash('sha256').update(JSON.stringify(listing)).digest('base64url').slice(0, 11);

/** A cell cursor: a window start (whole milliseconds, as stored: 9e99 reached the store as a BIGINT it cannot hold, a 500) and a cell. */
export const isCellCursor = (v: unknown): v is [number, string] => Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string';

/** An offset cursor: the rows of an in-memory list already sent. */
export const isOffsetCursor = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function pipelineOf(registry: Registry, name: string): PipelineDefinition {
  const def = registry.pipelines.find((p) => p.name === name);
  if (!def) throw new ApiError(404, `unknown pipeline ${JSON.stringify(name)}`, { hint: 'GET /api/pipelines lists the loaded definitions' });
  return def;
}

export function keyFields(def: PipelineDefinition): readonly string[] {
  return def.kind === 'windowed' ? def.key : [def.key];
}

/**
 * A `key` parameter: a JSON object of every key field (`{"url":"/home"}`), or for a one-field key its
 * bare value (`/home`). Values are checked against the field's type; returns the key as stored.
 */
export function parseKey(def: PipelineDefinition, text: string): KeyValues {
  const fields = keyFields(def);
  if (fields.length === 0) throw badParameter('key', `${def.name} has no key (one group per window)`);
  let given: Record<string, unknown>;
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      given = parsed as Record<string, unknown>;
    } catch {
      throw badParameter('key', 'not a JSON object of the key fields');
    }
  } else if (fields.length === 1) {
    given = { [fields[0]!]: text };
  } else {
    throw badParameter('key', `give a JSON object of the key fields ${JSON.stringify(fields)}`);
  }
  const extra = Object.keys(given).filter((k) => !fields.includes(k));
  if (extra.length > 0) throw badParameter('key', `${JSON.stringify(extra[0])} is not a key field of ${def.name}; key fields: ${JSON.stringify(fields)}`);
  const key: KeyValues = {};
  for (const f of fields) {
    if (!(f in given)) throw badParameter('key', `missing key field ${JSON.stringify(f)}`);
    key[f] = keyValue(def, f, given[f]);
  }
  return key;
}

function keyValue(def: PipelineDefinition, field: string, v: unknown): string | number | boolean | null {
  if (v === null) return null;
  const kind = def.schema.fields[field]?.kind;
  const fromText = typeof v === 'string';
  if (kind === 'string' && typeof v === 'string') return v;
  if (kind === 'int') {
    const n = fromText && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
  }
  if (kind === 'bool') {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
  }
  if (kind === 'timestamp') {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string') return parseInstant('key', v);
  }
  throw badParameter('key', `${JSON.stringify(field)} is a ${kind ?? 'unknown'} field`);
}

export const cellOfKey = (key: KeyValues) => storedCellId(key);

const iso = (ms: number | null) => (ms === null ? null : Number.isFinite(ms) ? isoMillis(ms) : ms > 0 ? '+infinity' : '-infinity');

/** A window row on the wire (the fields of `concord report --format json`, and where it came from). */
export function windowJson(r: StoredRow) {
  return {
    window_start: isoMillis(r.windowStart), window_end: r.windowEnd === null ? null : isoMillis(r.windowEnd), key: r.key, values: r.values,
    revision: r.revision, provenance: r.provenance, generation: r.generation, watermark: iso(r.watermark), written_at: isoMillis(r.writtenAt),
    definition_version: r.definitionVersion,
  };
}

/** An alert row on the wire. */
export function alertJson(def: PipelineDefinition, r: StoredRow) {
  const output = def.kind === 'rule' ? def.rule.output : 'value';
  return {
    ts: isoMillis(r.windowStart), key: r.key, id: String(r.values[def.schema.idField] ?? ''), output, value: r.values[output] ?? null, late: r.values.late === true,
    revision: r.revision, provenance: r.provenance, generation: r.generation, watermark: iso(r.watermark), written_at: isoMillis(r.writtenAt), definition_version: r.definitionVersion,
  };
}

export { iso as isoOrNull };
