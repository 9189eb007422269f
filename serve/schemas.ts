import { UNAVAILABLE_REASONS } from './unavailable.ts';

/**
 * JSON schemas of the API's parameters and answers. Fastify validates every request against them (a
 * failure is a 400 naming the parameter); @fastify/swagger turns them into the OpenAPI document at
 * /api/openapi.json. Answers are serialised with JSON.stringify (the answer schemas document, they do
 * not filter), so a value is never silently coerced.
 */
export const LIMITS = {
  windows: { default: 1000, max: 5000 },
  alerts: { default: 100, max: 1000 },
  top: { default: 10, max: 100 },
  differences: { default: 100, max: 1000 },
  compare: { default: 500, max: 5000 },
  late: { default: 100, max: 1000 },
  deadLetters: { default: 50, max: 500 },
  keys: 50,
  /** The longest request URL (path and query) accepted, in bytes. */
  url: 8192,
} as const;

export const instant = { type: 'string', maxLength: 40, description: 'ISO 8601 instant with Z or an offset, or epoch milliseconds' } as const;
// As long as an instant may be: an instant given for a date reaches parseDate, which says to give a
// day (at 10, Ajv answered "must NOT have more than 10 characters").
export const date = { type: 'string', maxLength: 40, description: 'UTC date, YYYY-MM-DD' } as const;
// A cursor names the last row's cell, and a key is the user's data: both as long as a URL lets them be
// (a cursor of a 3,000-character key, which the API itself returned, was refused at 4,000).
export const cursor = { type: 'string', maxLength: LIMITS.url, description: 'next_cursor of the previous page' } as const;
/** A key parameter (a JSON object or a one-field key's value): bounded by the URL alone. */
export const keyParameter = (description: string) => ({ type: 'array', maxItems: LIMITS.keys, items: { type: 'string', maxLength: LIMITS.url }, description }) as const;
export const version = { type: 'string', maxLength: 12, description: '`live` (default: what readers see now), `realtime` (= 0, the stream\'s own rows) or a day version number' } as const;
export const limit = (l: { default: number; max: number }) => ({ type: 'integer', minimum: 1, maximum: l.max, default: l.default, description: `rows per page (at most ${l.max})` }) as const;

export const pipelineParams = {
  type: 'object', required: ['pipeline'], additionalProperties: false,
  properties: { pipeline: { type: 'string', minLength: 1, maxLength: 300, description: 'a pipeline of the loaded definitions (URL-encoded)' } },
} as const;

/** The query of a route that takes no parameter: one given is a 400 naming it, not silently ignored. */
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

export const dateParams = { type: 'object', required: ['date'], additionalProperties: false, properties: { date } } as const;

export const datePipelineParams = {
  type: 'object', required: ['date', 'pipeline'], additionalProperties: false,
  properties: { date, pipeline: pipelineParams.properties.pipeline },
} as const;

export const errorAnswer = {
  type: 'object', required: ['error'],
  properties: {
    error: { type: 'string' },
    parameter: { type: 'string', description: 'the parameter at fault (400)' },
    hint: { type: 'string', description: 'what to do' },
    reason: { type: 'string', enum: [...UNAVAILABLE_REASONS], description: 'why a 503 was answered: the server busy (busy, client_left, live_clients_full) or what it reads down (store_locked, store_down, redis_down)' },
  },
} as const;

const anyObject = { type: 'object', additionalProperties: true } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const windowRow = {
  type: 'object',
  properties: {
    window_start: { type: 'string' }, window_end: nullableString, key: anyObject, values: anyObject, revision: { type: 'integer' },
    provenance: { type: 'string', enum: ['realtime', 'late-update', 'reconciled', 'backfill'] }, generation: { type: 'integer', description: 'the day version the row belongs to (0: realtime)' },
    watermark: nullableString, written_at: { type: 'string' }, definition_version: { type: 'string' },
  },
} as const;

export const alertRow = {
  type: 'object',
  properties: {
    ts: { type: 'string' }, key: anyObject, id: { type: 'string' }, output: { type: 'string' }, value: {}, late: { type: 'boolean' },
    provenance: { type: 'string' }, generation: { type: 'integer' }, watermark: nullableString, written_at: { type: 'string' }, definition_version: { type: 'string' },
  },
} as const;

export const page = (item: object, extra: Record<string, object> = {}) => ({
  type: 'object',
  properties: { ...extra, rows: { type: 'array', items: item }, next_cursor: { ...nullableString, description: 'pass as cursor for the next page; null: no more' } },
}) as const;

/** Answers every route documents besides its 200. */
export const errors = { 400: errorAnswer, 404: errorAnswer, 503: errorAnswer } as const;

export { anyObject, nullableString };
