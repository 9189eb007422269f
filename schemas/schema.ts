import { SchemaViolationError } from '../pipeline/errors.ts';
import { ownValue, pathAbsence, pathOf, pathText, valueAtPath, type FieldPath } from './field-paths.ts';
import { normaliseTimestamp, type EpochUnit } from './timestamps.ts';
import { describe, plainDecimalText } from './value-text.ts';

export { EPOCH_UNITS, parseIsoTimestamp, parseIsoTimestampByPattern, type EpochUnit } from './timestamps.ts';

/**
 * A schema is plain data: field name -> field definition. From it we derive validation
 * (`validateEvent`), the TypeScript type (`EventOf`), and the archive column types
 * (`duckdbType` / `arrowType`), so the three can never drift apart.
 */
export type FieldKind = 'string' | 'int' | 'double' | 'bool' | 'timestamp' | 'decimal';

export interface FieldDef<K extends FieldKind = FieldKind, R extends boolean = boolean> {
  readonly kind: K;
  readonly required: R;
  readonly doc: string;
  /** decimal(N) only: N, the digits after the point; values are held as integer minor units (x 10^N). */
  readonly scale?: number;
}

type JsTypeOf<K extends FieldKind> = K extends 'string' ? string : K extends 'bool' ? boolean : number;

export interface EventSchema<F extends Record<string, FieldDef> = Record<string, FieldDef>> {
  readonly name: string;
  /** Field that carries event time (epoch ms after normalisation). */
  readonly timeField: string;
  /** Field that identifies an event (used to name late and rejected events). */
  readonly idField: string;
  /** Field Kafka records of this schema are keyed and partitioned by (none: keyed by the id). */
  readonly keyField?: string;
  readonly fields: F;
  /** Events more than this (ms) ahead of their reference are quarantined (pipeline/time-guard.ts); absent: off. */
  readonly maxFutureSkewMs?: number;
  /** Events more than this (ms) behind their reference go to the dead letters; absent: off. */
  readonly pastHorizonMs?: number;
  /** What a JSON number in a `timestamp` field counts: absent = 'ms' (see `EpochUnit`). */
  readonly epochUnit?: EpochUnit;
  /** The zone a `timestamp` string without Z or an offset is read in (canonical IANA name); absent: such strings are refused. */
  readonly timeZone?: string;
  /**
   * `time_zone` as the file wrote it, when the runtime's id for it is another name of the zone
   * ("Asia/Kolkata", which this runtime's data calls "Asia/Calcutta"): what `explain` shows the user.
   * Absent when they differ in case only, or not at all. Not part of the definition version.
   */
  readonly timeZoneAsWritten?: string;
  /** Field -> other names an event may carry it under (a producer's rename), tried in order when the field is absent or null. */
  readonly aliases?: Readonly<Record<string, readonly string[]>>;
  /** Field -> the keys leading to it inside nested objects (`["user", "id"]`), tried after its name and aliases (schemas/field-paths.ts). */
  readonly paths?: Readonly<Record<string, FieldPath>>;
}



/** The other names of `field` (`aliases`), own entries only: a field `constructor` has none from Object. */
export function aliasesOf(aliases: EventSchema['aliases'], field: string): readonly string[] {
  return aliases !== undefined && Object.hasOwn(aliases, field) ? aliases[field]! : [];
}

type RequiredKeys<F> = { [K in keyof F]: F[K] extends FieldDef<FieldKind, true> ? K : never }[keyof F];
type OptionalKeys<F> = Exclude<keyof F, RequiredKeys<F>>;

/** The normalised event type a schema describes: ts as epoch ms, decimals as integer minor units. */
export type EventOf<S extends EventSchema> = {
  -readonly [K in RequiredKeys<S['fields']>]: S['fields'][K] extends FieldDef<infer T> ? JsTypeOf<T> : never;
} & {
  -readonly [K in OptionalKeys<S['fields']>]?: S['fields'][K] extends FieldDef<infer T> ? JsTypeOf<T> : never;
};

/** A normalised field value: strings, numbers (int, double, epoch ms, minor units), booleans. */
export type FieldValue = string | number | boolean;

/** Any normalised event: field -> value; absent optional fields are left out. */
export type AnyEvent = Record<string, FieldValue | undefined>;

/** The largest decimal(N) scale: minor units stay exact integers in a double up to 2^53. */
export const MAX_DECIMAL_SCALE = 9;

/** 10^N for a decimal field, 1 otherwise: internal value / unitScale = the value in major units. */
export function unitScale(def: FieldDef | undefined): number {
  return def?.kind === 'decimal' ? 10 ** (def.scale ?? 0) : 1;
}

/** A normalised value as it is written out: decimals in major units (exact: 1230 / 100 prints 12.3). */
export function presentValue(def: FieldDef | undefined, value: FieldValue): FieldValue {
  return def?.kind === 'decimal' && typeof value === 'number' ? value / 10 ** (def.scale ?? 0) : value;
}

/** The type as written in a definitions file: `decimal(2)`, `int?`. */
export function fieldTypeName(def: FieldDef): string {
  return `${def.kind === 'decimal' ? `decimal(${def.scale ?? 0})` : def.kind}${def.required ? '' : '?'}`;
}

export function isNumericKind(kind: FieldKind): boolean {
  return kind === 'int' || kind === 'double' || kind === 'decimal';
}

/** Column type in the Parquet archive, as DuckDB names it. */
export function duckdbType(kind: FieldKind): string {
  switch (kind) {
    case 'string':
      return 'VARCHAR';
    case 'timestamp':
      return 'TIMESTAMP_MS';
    case 'int':
    case 'decimal':
      return 'BIGINT';
    case 'double':
      return 'DOUBLE';
    case 'bool':
      return 'BOOLEAN';
  }
}

/** The same column as an Apache Arrow type (for readers that use Arrow). */
export function arrowType(kind: FieldKind): string {
  switch (kind) {
    case 'string':
      return 'Utf8';
    case 'timestamp':
      return 'Timestamp<MILLISECOND, UTC>';
    case 'int':
    case 'decimal':
      return 'Int64';
    case 'double':
      return 'Float64';
    case 'bool':
      return 'Bool';
  }
}

const DECIMALS: RegExp[] = [];

/** decimal(N) as integer minor units: `12.34` -> 1234 at N = 2, exact (parsed from its text, never multiplied as a float). */
export function normaliseDecimal(value: unknown, name: string, scale: number): number {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SchemaViolationError(name, `expected a finite amount, got ${describe(value)}`);
    text = Object.is(value, -0) ? '0' : plainDecimalText(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new SchemaViolationError(name, `expected a number or decimal string, got ${describe(value)}`);
  }
  const pattern = (DECIMALS[scale] ??= new RegExp(scale === 0 ? '^-?\\d+$' : `^-?\\d+(\\.\\d{1,${scale}})?$`));
  // Quoted only when it came as a string: a JSON number 5.123 is said as 5.123, as it was written.
  const shown = typeof value === 'string' ? `"${text.length > 40 ? `${text.slice(0, 40)}...` : text}"` : text;
  if (!pattern.test(text)) throw new SchemaViolationError(name, `${shown} is not a number with at most ${scale} decimal places`);
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const minor = Number(whole) * 10 ** scale + Number(fraction.padEnd(scale, '0') || '0');
  if (!Number.isSafeInteger(minor)) throw new SchemaViolationError(name, `${shown} is too large to be held exactly`);
  return negative && minor !== 0 ? -minor : minor;
}

function normaliseInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new SchemaViolationError(name, `expected an integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value)) {
    // 9007199254740999 is read as 9007199254741000: the reason quoted a number the producer never sent.
    const read = Number.isInteger(value) ? ' (as read: a JSON number this large keeps about 16 digits, so the last ones may differ from the line\'s)' : '';
    throw new SchemaViolationError(name, `${value} is not an integer within +-(2^53 - 1)${read}`);
  }
  return value === 0 ? 0 : value; // -0 -> 0
}

function normaliseDouble(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new SchemaViolationError(name, `expected a finite number, got ${describe(value)}`);
  return value === 0 ? 0 : value;
}

function normaliseBool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new SchemaViolationError(name, `expected true or false, got ${describe(value)}`);
  return value;
}

/**
 * A string with half a UTF-16 pair (JSON's `"\ud800"` escape) is no Unicode text: the stream kept it
 * apart while the archive's UTF-8 turned every such half into U+FFFD, so `"/\ud800"` and `"/\ud801"`
 * were two keys in the stream and one in the replay, a difference reconcile could not explain.
 */
function loneSurrogate(value: string): string {
  const at = value.search(/\p{Surrogate}/u);
  const unit = value.charCodeAt(at).toString(16);
  return `holds an unpaired surrogate (\\u${unit} at character ${at}): not Unicode text; send the character's full pair, or UTF-8`;
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
    const missing = def.required ? `throw new Violation(${q}, absent(input, ${q}, aliases, paths));` : '';
    const present = def.kind === 'string'
      ? `if (typeof ${v} !== 'string') throw new Violation(${q}, 'expected a string, got ' + describe(${v}));` +
        `\n      if (!${v}.isWellFormed()) throw new Violation(${q}, lone(${v}));` +
        (def.required ? `\n      if (${v}.length === 0) throw new Violation(${q}, 'must not be empty');` : '')
      : `${v} = ${def.kind === 'decimal' ? `decimal(${v}, ${q}, ${def.scale ?? 0})` : def.kind === 'timestamp' ? `timestamp(${v}, ${q}, ${JSON.stringify(schema.epochUnit ?? 'ms')}, ${schema.timeZone === undefined ? 'undefined' : JSON.stringify(schema.timeZone)})` : `${def.kind}(${v}, ${q})`};`;
    // A name every object answers to (a required `constructor`) is read only as the event's own.
    const readOf = (n: string): string => (n in Object.prototype ? `(Object.hasOwn(input, ${JSON.stringify(n)}) ? input[${JSON.stringify(n)}] : undefined)` : `input[${JSON.stringify(n)}]`);
    // A renamed field (`aliases`): the schema's own name first, then each other name in turn, then its
    // place inside nested objects (`paths`), which throws when a value on the way is no object.
    const path = pathOf(schema.paths, name);
    // A path from the field's own name (`"url": "url.path"`: a producer made the value an object, or
    // `"coords": "coords[0]"` an array): what the path walks there is the way in, not the value.
    const own = path?.[0] === name ? `inner(${readOf(name)}, P[${i}])` : readOf(name);
    const read = [own, ...aliasesOf(schema.aliases, name).map(readOf)].join(' ?? ');
    if (path === undefined) {
      return `let ${v} = ${read};
    if (${v} === undefined || ${v} === null) { ${missing} }
    else {
      ${present}
    }`;
    }
    // A value read on the path says where it was found: the event has no key of the field's name.
    const place = JSON.stringify(` (at ${pathText(path)})`);
    return `let ${v} = ${read}, p${i} = false;
    if (${v} === undefined || ${v} === null) { ${v} = at(input, P[${i}], ${q}); p${i} = true; }
    if (${v} === undefined || ${v} === null) { ${missing} }
    else {
      try {
      ${present}
      } catch (e) { throw p${i} && e instanceof Violation ? new Violation(${q}, e.message.slice(${name.length + 2}) + ${place}) : e; }
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
  const make = new Function('Violation', 'describe', 'lone', 'timestamp', 'decimal', 'int', 'double', 'bool', 'absent', 'aliases', 'paths', 'at', 'P', 'inner', body) as (...helpers: unknown[]) => Validator;
  return make(SchemaViolationError, describe, loneSurrogate, normaliseTimestamp, normaliseDecimal, normaliseInt, normaliseDouble, normaliseBool, absentReason, schema.aliases ?? {}, schema.paths ?? {}, valueAtPath, names.map((n) => pathOf(schema.paths, n)), ownValue);
}

/**
 * Why a required field is missing, naming a key of the event that is likely the same field renamed
 * (`user_id` for `userId`: the same letters but for case, `_` and `-`): a producer's rename made every
 * later event "userId: is required", with nothing to say where the value had gone.
 */
function absentReason(input: Record<string, unknown>, name: string, aliases: Readonly<Record<string, readonly string[]>>, paths: Readonly<Record<string, FieldPath>>): string {
  const others = aliasesOf(aliases, name);
  const path = pathOf(paths, name);
  const places = [...(others.length === 0 ? [] : [`as ${others.map((a) => JSON.stringify(a)).join(' or ')}`]), ...(path === undefined ? [] : [`at ${pathText(path)}: ${pathAbsence(input, path)}`])];
  const also = places.length === 0 ? '' : ` (nor ${places.join(', nor ')})`;
  const fold = (n: string): string => n.toLowerCase().replace(/[_-]/g, '');
  const renamed = Object.keys(input).find((k) => k !== name && !others.includes(k) && fold(k) === fold(name));
  if (renamed === undefined) return `is required${also}`;
  return `is required${also}; the event has ${JSON.stringify(renamed)}: renamed by its producer? list it in the schema's "aliases": {${JSON.stringify(name)}: [${JSON.stringify(renamed)}]}`;
}

/**
 * One value normalised as `validateEvent` would for a field of this type (definitions use it for the
 * constants of filters, in epoch milliseconds whatever the schema's `epoch_unit`); throws
 * `SchemaViolationError` naming `name`. `unit`: the schema's `epochUnit` (an event's value, not a constant);
 * `zone`: its `timeZone` (constants too: a time without a zone is read in it).
 */
export function normaliseValue(def: FieldDef, value: unknown, name: string, unit?: EpochUnit, zone?: string): FieldValue {
  switch (def.kind) {
    case 'string':
      if (typeof value !== 'string') throw new SchemaViolationError(name, `expected a string, got ${describe(value)}`);
      return value;
    case 'timestamp':
      return normaliseTimestamp(value, name, unit, zone);
    case 'decimal':
      return normaliseDecimal(value, name, def.scale ?? 0);
    case 'int':
      return normaliseInt(value, name);
    case 'double':
      return normaliseDouble(value, name);
    case 'bool':
      return normaliseBool(value, name);
  }
}
