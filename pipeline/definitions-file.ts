import { MAX_DECIMAL_SCALE, fieldTypeName, isNumericKind, normaliseValue, type EventSchema, type FieldDef, type FieldKind, type FieldValue } from '../schemas/schema.ts';
import type { AggregateSpec } from './aggregates.ts';
import { DEFAULT_ALLOWED_LATENESS, DEFAULT_MAX_OUT_OF_ORDERNESS, RESERVED_OUTPUT_NAMES, type LookbackRule, type NamedAggregate, type PipelineDefinition } from './definition.ts';
import { ConcordError, DefinitionError } from './errors.ts';
import { COMPARISON_OPS, LIST_OPS, NULL_OPS, ORDERING_OPS, type Condition } from './filter.ts';
import { DEFAULT_HLL_PRECISION } from './hyperloglog.ts';
import { Registry } from './registry.ts';
import { parseDuration, type Millis } from './time.ts';
import { DEFAULT_MAX_FUTURE_SKEW } from './time-guard.ts';
import type { WindowSpec } from './windows.ts';

/**
 * The definitions file format (docs/definitions.md): what a user writes, as JSON or as the default
 * export of a module. `parseDefinitions` checks it all at once and builds the internal definitions.
 */
export type Duration = string | number;
export type FieldType = string;

export interface SchemaSpec {
  /** The event-time field: a required `timestamp`. */
  readonly time: string;
  /** The event id: a required `string`. */
  readonly id: string;
  /** The field Kafka records are keyed and partitioned by. */
  readonly key?: string;
  /** Field name -> `string | int | double | bool | timestamp | decimal(N)`, `?` for optional. */
  readonly fields: Readonly<Record<string, FieldType>>;
  /** Events more than this ahead of their reference (the Kafka record timestamp, else the wall clock when read) are quarantined; default "1h", "off" to disable. */
  readonly max_future_skew?: Duration | 'off';
  /** Events more than this behind their reference go to the dead letters (reason past_horizon); default "off". */
  readonly past_horizon?: Duration | 'off';
  readonly description?: string;
}

export type ConditionSpec = readonly [field: string, op: string] | readonly [field: string, op: string, value: unknown];

interface PipelineSpecBase {
  readonly input: string;
  readonly description?: string;
  readonly where?: readonly ConditionSpec[];
  readonly max_out_of_orderness?: Duration;
  readonly allowed_lateness?: Duration;
}

export type AggregateText = 'count' | readonly [kind: string, field?: string, precision?: number];

export interface WindowedPipelineSpec extends PipelineSpecBase {
  readonly key?: string | readonly string[];
  readonly window: { readonly tumbling: Duration } | { readonly hopping: Duration; readonly every: Duration };
  readonly aggregates: Readonly<Record<string, AggregateText>>;
}

export interface RuleSpec {
  readonly within: Duration;
  readonly distinct?: string;
  readonly count?: true;
  readonly sum?: string;
  readonly more_than: number;
  readonly output: string;
}

export interface RulePipelineSpec extends PipelineSpecBase {
  readonly key: string;
  readonly rule: RuleSpec;
}

export type PipelineSpec = WindowedPipelineSpec | RulePipelineSpec;

export interface DefinitionsFile {
  readonly schemas: Readonly<Record<string, SchemaSpec>>;
  readonly pipelines: Readonly<Record<string, PipelineSpec>>;
}

/** Typed helpers for definitions modules: they return their argument, checked by TypeScript. */
export const defineSchema = <const S extends SchemaSpec>(schema: S): S => schema;
export const definePipeline = <const P extends PipelineSpec>(pipeline: P): P => pipeline;
export const defineDefinitions = <const F extends DefinitionsFile>(file: F): F => file;

/** A definitions file with problems: every one of them, each naming its place. */
export class DefinitionsFileError extends DefinitionError {
  readonly problems: readonly string[];
  constructor(origin: string, problems: readonly string[]) {
    super(`${origin}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the definitions:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

const q = (v: unknown) => JSON.stringify(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const TYPE = /^(string|int|double|bool|timestamp|decimal\((\d+)\))(\?)?$/;
const AGGREGATES = ['count', 'sum', 'min', 'max', 'avg', 'count_distinct', 'approx_distinct'];

/** Collects problems; `at(path)` scopes messages to a place like `pipelines.p.aggregates.revenue`. */
class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
  /** Unknown keys are mistakes (a typo would silently mean a default). */
  keys(path: string, value: Record<string, unknown>, allowed: readonly string[]): void {
    for (const k of Object.keys(value)) if (!allowed.includes(k)) this.add(path, `unknown key ${q(k)}; expected one of ${allowed.join(', ')}`);
  }
  duration(path: string, value: unknown, positive: boolean): Millis | undefined {
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.add(path, `expected a duration like "30s", "10m", "1h" or integer milliseconds, got ${q(value)}`);
      return undefined;
    }
    try {
      const ms = parseDuration(String(value), 'duration');
      if (positive && ms <= 0) {
        this.add(path, `must be longer than 0, got ${q(value)}`);
        return undefined;
      }
      return ms;
    } catch {
      this.add(path, `${q(value)} is not a duration; use an integer with ms|s|m|h, e.g. "30s", "5m"`);
      return undefined;
    }
  }
}

function parseField(p: Problems, path: string, type: unknown): FieldDef | undefined {
  const m = typeof type === 'string' ? TYPE.exec(type.trim()) : null;
  if (!m) {
    p.add(path, `unknown type ${q(type)}; use string, int, double, bool, timestamp or decimal(N), with ? for optional`);
    return undefined;
  }
  const required = m[3] === undefined;
  if (m[2] !== undefined) {
    const scale = Number(m[2]);
    if (scale > MAX_DECIMAL_SCALE) {
      p.add(path, `decimal(${scale}) has more than ${MAX_DECIMAL_SCALE} decimals (values are held exactly as integer minor units)`);
      return undefined;
    }
    return { kind: 'decimal', scale, required, doc: '' };
  }
  return { kind: m[1] as FieldKind, required, doc: '' };
}

function parseSchema(p: Problems, name: string, spec: unknown): EventSchema | undefined {
  const path = `schemas.${name}`;
  if (!isObject(spec)) {
    p.add(path, `expected an object {time, id, key, fields}, got ${q(spec)}`);
    return undefined;
  }
  p.keys(path, spec, ['time', 'id', 'key', 'fields', 'max_future_skew', 'past_horizon', 'description']);
  if (!isObject(spec.fields) || Object.keys(spec.fields).length === 0) {
    p.add(`${path}.fields`, 'expected an object of field name -> type with at least one field');
    return undefined;
  }
  const fields: Record<string, FieldDef> = {};
  const declared: Record<string, unknown> = spec.fields;
  const seen = new Map<string, string>();
  for (const [f, type] of Object.entries(declared)) {
    if (f.length === 0) p.add(`${path}.fields`, 'a field name must not be empty');
    // `_...` names are the archive's own columns (_source, _offset, hashes) and the replay's internals.
    if (f.startsWith('_')) p.add(`${path}.fields.${f}`, `${q(f)}: names starting with "_" are reserved for Concord's own columns; rename the field`);
    // SQL (DuckDB) matches column names without regard to case: two such fields would be one column.
    const folded = f.toLowerCase();
    if (seen.has(folded)) p.add(`${path}.fields.${f}`, `${q(f)} differs from ${q(seen.get(folded))} only in case; columns would collide`);
    seen.set(folded, f);
    const def = parseField(p, `${path}.fields.${f}`, type);
    if (def) fields[f] = def;
  }
  const role = (key: 'time' | 'id' | 'key', kind: FieldKind | undefined, optional: boolean): string | undefined => {
    const v = spec[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || !(v in declared)) {
      p.add(`${path}.${key}`, v === undefined ? `required: the name of the ${key === 'time' ? 'event-time' : 'event id'} field` : `${q(v)} is not a field of the schema`);
      return undefined;
    }
    const def = fields[v];
    if (def && kind && (def.kind !== kind || !def.required)) p.add(`${path}.${key}`, `${q(v)} must be a required ${kind}; it is ${fieldTypeName(def)}`);
    return v;
  };
  const time = role('time', 'timestamp', false), id = role('id', 'string', false), key = role('key', undefined, true);
  if (time === undefined || id === undefined) return undefined;
  const guard = (k: 'max_future_skew' | 'past_horizon', fallback: number): number | undefined =>
    spec[k] === undefined ? fallback : spec[k] === 'off' ? Infinity : p.duration(`${path}.${k}`, spec[k], true);
  const maxFutureSkewMs = guard('max_future_skew', DEFAULT_MAX_FUTURE_SKEW), pastHorizonMs = guard('past_horizon', Infinity);
  return {
    name, timeField: time, idField: id, ...(key === undefined ? {} : { keyField: key }), fields,
    ...(maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs }), ...(pastHorizonMs === undefined || pastHorizonMs === Infinity ? {} : { pastHorizonMs }),
  };
}

function parseConditions(p: Problems, path: string, where: unknown, schema: EventSchema): Condition[] {
  if (where === undefined) return [];
  if (!Array.isArray(where)) {
    p.add(path, `expected a list of [field, op, value] conditions, got ${q(where)}`);
    return [];
  }
  const out: Condition[] = [];
  where.forEach((c: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!Array.isArray(c) || c.length < 2 || c.length > 3 || typeof c[0] !== 'string' || typeof c[1] !== 'string') {
      p.add(at, `expected [field, op, value] or [field, "is null" | "is not null"], got ${q(c)}`);
      return;
    }
    const [field, op, value] = c as [string, string, unknown];
    const def = schema.fields[field];
    if (!def) {
      p.add(at, `${q(field)} is not a field of schema ${q(schema.name)}`);
      return;
    }
    if (NULL_OPS.includes(op)) {
      if (c.length === 3) p.add(at, `${q(op)} takes no value`);
      else out.push({ field, op: op as 'is null' | 'is not null' });
      return;
    }
    if (!COMPARISON_OPS.includes(op) && !LIST_OPS.includes(op)) {
      p.add(at, `unknown operator ${q(op)}; use =, !=, <, <=, >, >=, in, not in, is null, is not null`);
      return;
    }
    if (c.length !== 3) {
      p.add(at, `${q(op)} needs a value`);
      return;
    }
    if (ORDERING_OPS.includes(op) && !isNumericKind(def.kind) && def.kind !== 'timestamp') {
      p.add(at, `${q(op)} compares numbers and timestamps only; ${q(field)} is ${fieldTypeName(def)}`);
      return;
    }
    const constant = (v: unknown): FieldValue | undefined => {
      if (v === null) {
        p.add(at, `compare with null using "is null" / "is not null"`);
        return undefined;
      }
      try {
        return normaliseValue(def, v, field);
      } catch (error) {
        p.add(at, `value ${q(v)} does not fit ${q(field)} (${fieldTypeName(def)}): ${error instanceof ConcordError ? error.message : String(error)}`);
        return undefined;
      }
    };
    if (LIST_OPS.includes(op)) {
      if (!Array.isArray(value)) {
        p.add(at, `${q(op)} needs a list of values, got ${q(value)}`);
        return;
      }
      const values = value.map(constant);
      if (values.every((v) => v !== undefined)) out.push({ field, op: op as 'in' | 'not in', value: values as FieldValue[] });
      return;
    }
    const v = constant(value);
    if (v !== undefined) out.push({ field, op: op as Condition['op'] & ('=' | '!=' | '<' | '<=' | '>' | '>='), value: v });
  });
  return out;
}

function parseWindow(p: Problems, path: string, w: unknown): WindowSpec | undefined {
  if (!isObject(w) || (w.tumbling === undefined) === (w.hopping === undefined)) {
    p.add(path, `expected {"tumbling": "1m"} or {"hopping": "30m", "every": "10m"}, got ${q(w)}`);
    return undefined;
  }
  if (w.tumbling !== undefined) {
    p.keys(path, w, ['tumbling']);
    const size = p.duration(`${path}.tumbling`, w.tumbling, true);
    return size === undefined ? undefined : { kind: 'tumbling', size };
  }
  p.keys(path, w, ['hopping', 'every']);
  const size = p.duration(`${path}.hopping`, w.hopping, true);
  if (w.every === undefined) {
    p.add(`${path}.every`, 'required for a hopping window: how often a window starts, e.g. "10m"');
    return undefined;
  }
  const slide = p.duration(`${path}.every`, w.every, true);
  if (size === undefined || slide === undefined) return undefined;
  if (slide > size) {
    p.add(`${path}.every`, `${q(w.every)} is longer than the window ${q(w.hopping)}; events between windows would be lost`);
    return undefined;
  }
  return { kind: 'hopping', size, slide };
}

function outputName(p: Problems, path: string, name: string, taken: Set<string>): void {
  if (name.length === 0) p.add(path, 'an output name must not be empty');
  else if (RESERVED_OUTPUT_NAMES.includes(name)) p.add(path, `${q(name)} is a name Concord writes itself in output rows; choose another`);
  else if (taken.has(name)) p.add(path, `${q(name)} is already an output field of this pipeline`);
  taken.add(name);
}

function parseAggregate(p: Problems, path: string, text: unknown, schema: EventSchema): AggregateSpec | undefined {
  const parts = text === 'count' ? ['count'] : Array.isArray(text) ? text : undefined;
  const kind = parts?.[0];
  if (!parts || typeof kind !== 'string' || !AGGREGATES.includes(kind)) {
    p.add(path, `expected "count" or [kind, field] with kind one of ${AGGREGATES.join(', ')}, got ${q(text)}`);
    return undefined;
  }
  if (kind === 'count') {
    if (parts.length > 1) p.add(path, '"count" counts events and takes no field');
    return { kind: 'count' };
  }
  const field = parts[1];
  const def = typeof field === 'string' ? schema.fields[field] : undefined;
  if (!def) {
    p.add(path, `${kind} needs a field of schema ${q(schema.name)}; ${q(field)} is not one`);
    return undefined;
  }
  const f = field as string;
  if ((kind === 'sum' || kind === 'avg') && !isNumericKind(def.kind)) {
    p.add(path, `${kind} needs a numeric field; ${q(f)} is a ${fieldTypeName(def)}`);
    return undefined;
  }
  if ((kind === 'min' || kind === 'max') && !isNumericKind(def.kind) && def.kind !== 'timestamp') {
    p.add(path, `${kind} needs a numeric or timestamp field; ${q(f)} is a ${fieldTypeName(def)}`);
    return undefined;
  }
  if (kind === 'approx_distinct') {
    const precision = parts[2] ?? DEFAULT_HLL_PRECISION;
    if (parts.length > 3 || !Number.isInteger(precision) || (precision as number) < 4 || (precision as number) > 16) {
      p.add(path, `approx_distinct precision must be an integer in 4..16, got ${q(parts[2])}`);
      return undefined;
    }
    return { kind, field: f, precision: precision as number };
  }
  if (parts.length > 2) p.add(path, `${kind} takes one field, got ${q(text)}`);
  return { kind: kind as 'sum' | 'min' | 'max' | 'avg' | 'count_distinct', field: f };
}

function parseRule(p: Problems, path: string, r: unknown, schema: EventSchema, key: string | undefined): LookbackRule | undefined {
  if (!isObject(r)) {
    p.add(path, `expected {within, distinct | count | sum, more_than, output}, got ${q(r)}`);
    return undefined;
  }
  p.keys(path, r, ['within', 'distinct', 'count', 'sum', 'more_than', 'output']);
  const span = p.duration(`${path}.within`, r.within, true);
  const measures = (['distinct', 'count', 'sum'] as const).filter((m) => r[m] !== undefined);
  if (measures.length !== 1) {
    p.add(path, `exactly one measure: "distinct": FIELD, "count": true or "sum": FIELD; got ${measures.length === 0 ? 'none' : measures.join(' and ')}`);
    return undefined;
  }
  const measure = measures[0]!;
  let field: string | undefined;
  if (measure === 'count') {
    if (r.count !== true) p.add(`${path}.count`, `expected true, got ${q(r.count)}`);
  } else {
    field = typeof r[measure] === 'string' ? (r[measure] as string) : undefined;
    const def = field === undefined ? undefined : schema.fields[field];
    if (!def) p.add(`${path}.${measure}`, `${q(r[measure])} is not a field of schema ${q(schema.name)}`);
    else if (measure === 'sum' && !isNumericKind(def.kind)) p.add(`${path}.sum`, `sum needs a numeric field; ${q(field)} is a ${fieldTypeName(def)}`);
  }
  let threshold: number | undefined;
  if (typeof r.more_than !== 'number' || !Number.isFinite(r.more_than)) p.add(`${path}.more_than`, `expected a number, got ${q(r.more_than)}`);
  else {
    const def = measure === 'sum' && field ? schema.fields[field] : undefined;
    // In the field's units: a decimal threshold becomes minor units exactly, like the values it meets.
    if (def?.kind === 'decimal') {
      try {
        threshold = normaliseValue(def, r.more_than, 'more_than') as number;
      } catch (error) {
        p.add(`${path}.more_than`, `${q(r.more_than)} does not fit ${q(field)} (${fieldTypeName(def)}): ${error instanceof ConcordError ? error.message : String(error)}`);
      }
    } else threshold = r.more_than;
  }
  const output = r.output;
  if (typeof output !== 'string') p.add(`${path}.output`, `required: the name of the output field, got ${q(output)}`);
  else outputName(p, `${path}.output`, output, new Set([schema.idField, ...(key === undefined ? [] : [key])]));
  if (span === undefined || threshold === undefined || typeof output !== 'string' || (measure !== 'count' && !field)) return undefined;
  return { kind: 'lookback', measure, ...(field === undefined ? {} : { field }), output, span, threshold };
}

function parsePipeline(p: Problems, name: string, spec: unknown, schemas: ReadonlyMap<string, EventSchema>): PipelineDefinition | undefined {
  const path = `pipelines.${name}`;
  if (!isObject(spec)) {
    p.add(path, `expected an object {input, ...}, got ${q(spec)}`);
    return undefined;
  }
  const isRule = spec.rule !== undefined;
  p.keys(path, spec, ['input', 'description', 'where', 'key', 'max_out_of_orderness', 'allowed_lateness', ...(isRule ? ['rule'] : ['window', 'aggregates'])]);
  const schema = typeof spec.input === 'string' ? schemas.get(spec.input) : undefined;
  if (!schema) {
    p.add(`${path}.input`, spec.input === undefined ? 'required: the schema this pipeline reads' : `${q(spec.input)} is not a schema of this file${schemas.size > 0 ? ` (${[...schemas.keys()].map(q).join(', ')})` : ''}`);
    return undefined;
  }
  const where = parseConditions(p, `${path}.where`, spec.where, schema);
  const bound = spec.max_out_of_orderness === undefined ? DEFAULT_MAX_OUT_OF_ORDERNESS : p.duration(`${path}.max_out_of_orderness`, spec.max_out_of_orderness, false);
  const lateness = spec.allowed_lateness === undefined ? DEFAULT_ALLOWED_LATENESS : p.duration(`${path}.allowed_lateness`, spec.allowed_lateness, false);
  const base = {
    name, description: typeof spec.description === 'string' ? spec.description : name, schema, where,
    watermark: { maxOutOfOrderness: bound ?? 0 }, allowedLateness: lateness ?? 0,
  };
  const checkKey = (k: unknown, at: string): k is string => {
    if (typeof k === 'string' && k in schema.fields) return true;
    p.add(at, `${q(k)} is not a field of schema ${q(schema.name)}`);
    return false;
  };
  if (isRule) {
    const key = checkKey(spec.key, `${path}.key`) ? (spec.key as string) : undefined;
    const rule = parseRule(p, `${path}.rule`, spec.rule, schema, key);
    if (!rule || key === undefined || bound === undefined || lateness === undefined) return undefined;
    return { ...base, kind: 'rule', key, rule };
  }
  const keys = spec.key === undefined ? [] : Array.isArray(spec.key) ? spec.key : [spec.key];
  const key = keys.filter((k, i) => checkKey(k, `${path}.key${Array.isArray(spec.key) ? `[${i}]` : ''}`)) as string[];
  const taken = new Set<string>();
  key.forEach((k) => outputName(p, `${path}.key`, k, taken));
  const window = spec.window === undefined ? (p.add(`${path}.window`, 'required (or a "rule")'), undefined) : parseWindow(p, `${path}.window`, spec.window);
  const aggregates: NamedAggregate[] = [];
  if (!isObject(spec.aggregates) || Object.keys(spec.aggregates).length === 0) p.add(`${path}.aggregates`, 'expected at least one aggregate, e.g. {"views": "count"}');
  else {
    for (const [output, text] of Object.entries(spec.aggregates)) {
      outputName(p, `${path}.aggregates.${output}`, output, taken);
      const aggregate = parseAggregate(p, `${path}.aggregates.${output}`, text, schema);
      if (aggregate) aggregates.push({ output, aggregate });
    }
  }
  if (!window || key.length !== keys.length || bound === undefined || lateness === undefined) return undefined;
  return { ...base, kind: 'windowed', key, window, aggregates };
}

/**
 * Checks a definitions file's content and builds the registry; throws `DefinitionsFileError` with
 * every problem found (each `place: what is wrong`), never only the first.
 */
export function parseDefinitions(content: unknown, origin: string): Registry {
  const p = new Problems();
  if (!isObject(content)) throw new DefinitionsFileError(origin, [`(file): expected an object {"schemas": {...}, "pipelines": {...}}, got ${q(content)?.slice(0, 80)}`]);
  p.keys('(file)', content, ['schemas', 'pipelines', '$schema', 'description']);
  const schemas = new Map<string, EventSchema>();
  if (!isObject(content.schemas) || Object.keys(content.schemas).length === 0) p.add('schemas', 'expected at least one schema, e.g. {"clicks": {"time": "ts", "id": "event_id", "fields": {...}}}');
  else for (const [name, spec] of Object.entries(content.schemas)) {
    const schema = parseSchema(p, name, spec);
    if (schema) schemas.set(name, schema);
  }
  const pipelines: PipelineDefinition[] = [];
  if (!isObject(content.pipelines)) p.add('pipelines', 'expected an object of pipeline name -> definition');
  else for (const [name, spec] of Object.entries(content.pipelines)) {
    if (name.length === 0 || name === 'all') p.add(`pipelines.${name}`, `${q(name)} cannot name a pipeline ("all" selects every pipeline)`);
    const def = parsePipeline(p, name, spec, schemas);
    if (def) pipelines.push(def);
  }
  if (p.list.length > 0) throw new DefinitionsFileError(origin, p.list);
  return new Registry([...schemas.values()], pipelines, origin);
}
