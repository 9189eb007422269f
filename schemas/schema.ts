import { SchemaViolationError } from '../pipeline/errors.ts';

/**
 * A schema is plain data: field name -> field definition. From it we derive validation
 * (`validateEvent`), the TypeScript type (`EventOf`), and the archive column types
 * (`duckdbType` / `arrowType`), so the three can never drift apart.
 */
export type FieldKind = 'string' | 'timestamp' | 'minor_units';

export interface FieldDef<K extends FieldKind = FieldKind, R extends boolean = boolean> {
  readonly kind: K;
  readonly required: R;
  readonly doc: string;
}

type JsTypeOf<K extends FieldKind> = K extends 'string' ? string : number;

export interface EventSchema<F extends Record<string, FieldDef> = Record<string, FieldDef>> {
  readonly name: string;
  /** Field that carries event time (epoch ms after normalisation). */
  readonly timeField: string;
  /** Field that identifies an event (used to name late and rejected events). */
  readonly idField: string;
  readonly fields: F;
}

type RequiredKeys<F> = { [K in keyof F]: F[K] extends FieldDef<FieldKind, true> ? K : never }[keyof F];
type OptionalKeys<F> = Exclude<keyof F, RequiredKeys<F>>;

/** The normalised event type a schema describes: ts as epoch ms, money as integer minor units. */
export type EventOf<S extends EventSchema> = {
  -readonly [K in RequiredKeys<S['fields']>]: S['fields'][K] extends FieldDef<infer T> ? JsTypeOf<T> : never;
} & {
  -readonly [K in OptionalKeys<S['fields']>]?: S['fields'][K] extends FieldDef<infer T> ? JsTypeOf<T> : never;
};

/** Any normalised event: field -> string | number. */
export type AnyEvent = Record<string, string | number | undefined>;

export const field = {
  string: (doc: string) => ({ kind: 'string', required: true, doc }) as const,
  optionalString: (doc: string) => ({ kind: 'string', required: false, doc }) as const,
  timestamp: (doc: string) => ({ kind: 'timestamp', required: true, doc }) as const,
  minorUnits: (doc: string) => ({ kind: 'minor_units', required: true, doc }) as const,
};

export function defineSchema<const F extends Record<string, FieldDef>>(schema: EventSchema<F>): EventSchema<F> {
  return schema;
}

/** Column type in the Parquet archive, as DuckDB names it. */
export function duckdbType(kind: FieldKind): string {
  switch (kind) {
    case 'string':
      return 'VARCHAR';
    case 'timestamp':
      return 'TIMESTAMP_MS';
    case 'minor_units':
      return 'BIGINT';
  }
}

/** The same column as an Apache Arrow type (for readers that use Arrow). */
export function arrowType(kind: FieldKind): string {
  switch (kind) {
    case 'string':
      return 'Utf8';
    case 'timestamp':
      return 'Timestamp<MILLISECOND, UTC>';
    case 'minor_units':
      return 'Int64';
  }
}

// ISO-8601 with a mandatory zone: a bare local time is ambiguous and is rejected, never guessed.
const ISO_TS =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;
const ISO_WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?)?$/;

/** Parses an ISO-8601 timestamp with `Z` or an offset into epoch ms (sub-ms digits truncated). */
export function parseIsoTimestamp(text: string, fieldName: string): number {
  const m = ISO_TS.exec(text);
  if (!m) {
    if (ISO_WITHOUT_ZONE.test(text)) {
      throw new SchemaViolationError(fieldName, `"${text}" has no time zone; add Z or an offset like +02:00`);
    }
    throw new SchemaViolationError(fieldName, `"${text}" is not an ISO-8601 timestamp or epoch milliseconds`);
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[];
  const year = Number(y), month = Number(mo), day = Number(d);
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
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z' && zone !== undefined) {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  }
  return local - offsetMinutes * 60_000;
}

// Timestamps outside years 1970..9999 are almost certainly unit mistakes (seconds, microseconds).
const MAX_TS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function normaliseTimestamp(value: unknown, name: string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new SchemaViolationError(name, `${value} is not an integer number of epoch milliseconds`);
    if (value < 0 || value > MAX_TS) throw new SchemaViolationError(name, `${value} is outside years 1970..9999 (epoch milliseconds expected)`);
    return value;
  }
  if (typeof value === 'string') return parseIsoTimestamp(value, name);
  throw new SchemaViolationError(name, `expected epoch milliseconds or an ISO-8601 string, got ${describe(value)}`);
}

const DECIMAL = /^-?\d+(\.\d{1,2})?$/;

/** Money as integer minor units: `12.34` -> 1234, exact (parsed from its decimal text, not multiplied as a float). */
function normaliseMinorUnits(value: unknown, name: string): number {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SchemaViolationError(name, `${value} is not a finite amount`);
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new SchemaViolationError(name, `expected a number or decimal string, got ${describe(value)}`);
  }
  if (!DECIMAL.test(text)) throw new SchemaViolationError(name, `"${text}" is not an amount with at most 2 decimal places`);
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const minor = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  if (!Number.isSafeInteger(minor)) throw new SchemaViolationError(name, `"${text}" is too large`);
  return negative ? -minor : minor;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `string "${value}"` : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Validates a parsed JSON value against a schema and returns the normalised event.
 * Throws `SchemaViolationError` naming the first bad field. Unknown extra fields are dropped.
 */
export function validateEvent<S extends EventSchema>(schema: S, raw: unknown): EventOf<S> {
  let validate = validators.get(schema);
  if (!validate) validators.set(schema, (validate = compileValidator(schema)));
  return validate(raw) as EventOf<S>;
}

type Validator = (raw: unknown) => AnyEvent;
const validators = new WeakMap<EventSchema, Validator>();

/**
 * The checks of `validateEvent` for one schema as straight-line code: fields read by literal names and
 * the event built as an object literal, in schema order (absent optional fields are left out), so
 * every event of a schema has one shape. Measured, 1M clicks: see docs/benchmarks.md (stream from JSON).
 * Field names are embedded as JSON string literals.
 */
function compileValidator(schema: EventSchema): Validator {
  const names = Object.keys(schema.fields);
  const checks = names.map((name, i) => {
    const def = schema.fields[name]!;
    const q = JSON.stringify(name), v = `v${i}`;
    const missing = def.required ? `throw new Violation(${q}, 'is required');` : '';
    const present = def.kind === 'string'
      ? `if (typeof ${v} !== 'string') throw new Violation(${q}, 'expected a string, got ' + describe(${v}));` +
        (def.required ? `\n      if (${v}.length === 0) throw new Violation(${q}, 'must not be empty');` : '')
      : `${v} = ${def.kind === 'timestamp' ? 'timestamp' : 'minorUnits'}(${v}, ${q});`;
    return `let ${v} = input[${q}];
    if (${v} === undefined || ${v} === null) { ${missing} }
    else {
      ${present}
    }`;
  });
  // The literal holds the fields up to the first optional one; the rest are added in order.
  const firstOptional = names.findIndex((n) => !schema.fields[n]!.required);
  const head = firstOptional < 0 ? names.length : firstOptional;
  const literal = names.slice(0, head).map((n, i) => `${JSON.stringify(n)}: v${i}`).join(', ');
  const tail = names.slice(head).map((n, j) => {
    const i = head + j;
    return schema.fields[n]!.required ? `out[${JSON.stringify(n)}] = v${i};` : `if (v${i} !== undefined && v${i} !== null) out[${JSON.stringify(n)}] = v${i};`;
  });
  const body = `return function validate(raw) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Violation('(event)', 'expected a JSON object, got ' + describe(raw));
    const input = raw;
    ${checks.join('\n    ')}
    const out = { ${literal} };
    ${tail.join('\n    ')}
    return out;
  };`;
  const make = new Function('Violation', 'describe', 'timestamp', 'minorUnits', body) as (...helpers: unknown[]) => Validator;
  return make(SchemaViolationError, describe, normaliseTimestamp, normaliseMinorUnits);
}
