/** Checks one `pipelines.NAME` entry of a definitions file (windowed or rule) and builds its `PipelineDefinition`. */

import { fieldTypeName, isNumericKind, normaliseValue, type EventSchema } from '../schemas/schema.ts';
import type { AggregateSpec } from './aggregates.ts';
import { DEFAULT_ALLOWED_LATENESS, DEFAULT_MAX_OUT_OF_ORDERNESS, RESERVED_OUTPUT_NAMES, type LookbackRule, type NamedAggregate, type PipelineDefinition } from './definition.ts';
import { isObject, q, type Problems } from './definitions-problems.ts';
import { ConcordError } from './errors.ts';
import { DEFAULT_HLL_PRECISION } from './hyperloglog.ts';
import { checkQuantile } from './log-histogram.ts';
import { parseAggregateFilter } from './parse-aggregate-filter.ts';
import { parseConditions } from './parse-conditions-spec.ts';
import { formatDuration, type Millis } from './time.ts';
import { reportWindowKeyHints } from './window-key-hints.ts';
import { hopping, MAX_WINDOWS_PER_EVENT, tumbling, windowsPerEvent, type WindowSpec } from './windows.ts';

const AGGREGATES = ['count', 'sum', 'min', 'max', 'avg', 'count_distinct', 'approx_distinct', 'approx_percentile'];

/**
 * A window's `offset`: a duration with an optional sign ("-5h", "+30m", -18000000), shorter than the
 * window's step (Flink refuses a longer one too: it would name the same windows as its remainder).
 */
function parseOffset(p: Problems, path: string, value: unknown, step: Millis, stepName: string): Millis | undefined {
  if (value === undefined) return 0;
  const text = typeof value === 'string' || typeof value === 'number' ? String(value).trim() : undefined;
  const sign = text !== undefined && /^[+-]/.test(text) ? text.charAt(0) : '';
  if (text === undefined || text.length === 1 && sign !== '') {
    p.add(path, `expected a duration like "5h", "-30m" or integer milliseconds, got ${q(value)}`);
    return undefined;
  }
  const magnitude = p.duration(path, text.slice(sign.length), false);
  if (magnitude === undefined) return undefined;
  if (magnitude >= step) {
    p.add(path, `${q(value)} is not shorter than the window's ${stepName} ${q(formatDuration(step))}; use an offset between -${formatDuration(step)} and ${formatDuration(step)} (exclusive)`);
    return undefined;
  }
  return sign === '-' ? -magnitude : magnitude;
}

function parseWindow(p: Problems, path: string, w: unknown): WindowSpec | undefined {
  if (!isObject(w) || (w.tumbling === undefined) === (w.hopping === undefined)) {
    p.add(path, `expected {"tumbling": "1m"} or {"hopping": "30m", "every": "10m"} (either with an "offset"), got ${q(w)}`);
    return undefined;
  }
  const kind = w.tumbling !== undefined ? 'tumbling' : 'hopping';
  const hinted = reportWindowKeyHints(p, path, w, kind);
  const rest = Object.fromEntries(Object.entries(w).filter(([k]) => !hinted.includes(k)));
  if (kind === 'tumbling') {
    p.keys(path, rest, ['tumbling', 'offset']);
    const size = p.duration(`${path}.tumbling`, w.tumbling, true);
    const offset = size === undefined ? undefined : parseOffset(p, `${path}.offset`, w.offset, size, 'size');
    return size === undefined || offset === undefined ? undefined : tumbling(size, offset);
  }
  p.keys(path, rest, ['hopping', 'every', 'offset']);
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
  const offset = parseOffset(p, `${path}.offset`, w.offset, slide, '"every"');
  if (offset === undefined) return undefined;
  const spec = hopping(size, slide, offset);
  if (windowsPerEvent(spec) > MAX_WINDOWS_PER_EVENT) {
    p.add(`${path}.every`, `${q(w.hopping)} every ${q(w.every)} puts each event in ${windowsPerEvent(spec).toLocaleString('en-US')} windows (each one state and an output row per key); ` +
      `at most ${MAX_WINDOWS_PER_EVENT.toLocaleString('en-US')} are allowed: use a longer "every" (at least ${q(formatDuration(Math.ceil(size / MAX_WINDOWS_PER_EVENT)))})`);
    return undefined;
  }
  return spec;
}

function outputName(p: Problems, path: string, name: string, taken: Set<string>): void {
  if (name.length === 0) p.add(path, 'an output name must not be empty');
  else if (RESERVED_OUTPUT_NAMES.includes(name)) p.add(path, `${q(name)} is a name Concord writes itself in output rows; choose another`);
  // Output rows are JavaScript objects, where `__proto__` is no property: a value set under it vanished.
  else if (name === '__proto__') p.add(path, `${q(name)} cannot name an output field (JavaScript objects do not hold it); choose another`);
  else if (taken.has(name)) p.add(path, `${q(name)} is already an output field of this pipeline`);
  taken.add(name);
}

function parseAggregate(p: Problems, path: string, text: unknown, schema: EventSchema): AggregateSpec | undefined {
  const parts = text === 'count' ? ['count'] : Array.isArray(text) ? text : undefined;
  const kind = parts?.[0];
  if (!parts || typeof kind !== 'string' || !AGGREGATES.includes(kind)) {
    p.add(path, `expected "count" or [kind, field] with kind one of ${AGGREGATES.join(', ')} (a filter last: [kind, field, {"where": [...]}]), got ${q(text)}`);
    return undefined;
  }
  if (kind === 'count') {
    if (parts.length > 1) p.add(path, '"count" counts events and takes no field');
    return { kind: 'count' };
  }
  const field = parts[1];
  // A sketch's own argument is checked whatever its field: a misspelt field and a quantile of 95 are two
  // problems, listed together (the quantile showed only once the field was fixed).
  const argument = field === undefined ? undefined : sketchArgument(p, path, kind, parts, text, typeof field === 'string' ? field : 'FIELD');
  const def = p.field(path, schema, field, field === undefined
    ? `${kind} needs a field: ["${kind}", FIELD] with FIELD one of schema ${q(schema.name)}'s`
    : `${kind} needs a field of schema ${q(schema.name)}; ${q(field)} is not one`);
  if (!def) return undefined;
  const f = field as string;
  if ((kind === 'sum' || kind === 'avg' || kind === 'approx_percentile') && !isNumericKind(def.kind)) {
    p.add(path, `${kind} needs a numeric field; ${q(f)} is a ${fieldTypeName(def)}`);
    return undefined;
  }
  if ((kind === 'min' || kind === 'max') && !isNumericKind(def.kind) && def.kind !== 'timestamp') {
    p.add(path, `${kind} needs a numeric or timestamp field; ${q(f)} is a ${fieldTypeName(def)}`);
    return undefined;
  }
  if (kind === 'approx_distinct') return argument === undefined ? undefined : { kind, field: f, precision: argument };
  if (kind === 'approx_percentile') return argument === undefined ? undefined : { kind, field: f, quantile: argument };
  if (parts.length > 2) p.add(path, `${kind} takes one field, got ${q(text)}`);
  return { kind: kind as 'sum' | 'min' | 'max' | 'avg' | 'count_distinct', field: f };
}

/** The precision of an `approx_distinct` or the quantile of an `approx_percentile` (undefined for other kinds, or with its problem). */
function sketchArgument(p: Problems, path: string, kind: string, parts: readonly unknown[], text: unknown, field: string): number | undefined {
  if (kind === 'approx_distinct') {
    const precision = parts[2] ?? DEFAULT_HLL_PRECISION;
    if (parts.length > 3 || !Number.isInteger(precision) || (precision as number) < 4 || (precision as number) > 16) {
      p.add(path, `approx_distinct precision must be an integer in 4..16, got ${q(parts[2])}`);
      return undefined;
    }
    return precision as number;
  }
  if (kind !== 'approx_percentile') return undefined;
  if (parts[2] === undefined) {
    p.add(path, `approx_percentile needs a quantile after its field: ["approx_percentile", ${q(field)}, 0.99] for the 99th percentile`);
    return undefined;
  }
  if (!checkQuantile(parts[2])) {
    p.add(path, `quantile ${q(parts[2])} is not in (0, 1]: ${quantileHint(parts[2])}`);
    return undefined;
  }
  if (parts.length > 3) p.add(path, `approx_percentile takes a field and a quantile, got ${q(text)}`);
  return parts[2];
}

/**
 * What a quantile outside (0, 1] was likely meant as: a whole percentile (`95` for the 95th, 0.95), a
 * number written as text; else the usual example (95 was told to write "the 99th percentile as 0.99").
 */
function quantileHint(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v > 1 && v <= 100) {
    const tens = v % 100;
    const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][v % 10] ?? 'th');
    return `write the ${v}${suffix} percentile as ${v / 100}`;
  }
  if (typeof v === 'string' && v.trim() !== '' && checkQuantile(Number(v))) return `write it as a number, ${Number(v)}, not as text`;
  return 'write the 99th percentile as 0.99';
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
    const def = p.field(`${path}.${measure}`, schema, field, `${q(r[measure])} is not a field of schema ${q(schema.name)}`);
    if (!def) field = undefined;
    else if (measure === 'sum' && !isNumericKind(def.kind)) p.add(`${path}.sum`, `sum needs a numeric field; ${q(field)} is a ${fieldTypeName(def)}`);
  }
  let threshold: number | undefined;
  if (r.more_than === undefined) p.add(`${path}.more_than`, 'required: the threshold; an alert is raised when the measure first exceeds it, e.g. "more_than": 3');
  else if (typeof r.more_than !== 'number' || !Number.isFinite(r.more_than)) p.add(`${path}.more_than`, `expected a number, got ${q(r.more_than)}${typeof r.more_than === 'string' && Number.isFinite(Number(r.more_than)) && r.more_than.trim() !== '' ? ` (write it without quotes: ${r.more_than.trim()})` : ''}`);
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

/**
 * What of a pipeline can be checked without its schema (an unknown input): the durations and the
 * window, so the first run of `validate` lists them too, not only after the input is fixed.
 */
function checkWithoutSchema(p: Problems, path: string, spec: Record<string, unknown>, isRule: boolean): undefined {
  if (spec.max_out_of_orderness !== undefined) p.duration(`${path}.max_out_of_orderness`, spec.max_out_of_orderness, false);
  if (spec.allowed_lateness !== undefined) p.duration(`${path}.allowed_lateness`, spec.allowed_lateness, false);
  if (!isRule && spec.window !== undefined) parseWindow(p, `${path}.window`, spec.window);
  if (isRule && isObject(spec.rule) && spec.rule.within !== undefined) p.duration(`${path}.rule.within`, spec.rule.within, true);
  return undefined;
}

export function parsePipeline(p: Problems, name: string, spec: unknown, schemas: ReadonlyMap<string, EventSchema>): PipelineDefinition | undefined {
  const path = `pipelines.${name}`;
  if (!isObject(spec)) {
    p.add(path, `expected an object {input, ...}, got ${q(spec)}`);
    return undefined;
  }
  const isRule = spec.rule !== undefined;
  p.keys(path, spec, ['input', 'description', 'where', 'key', 'max_out_of_orderness', 'allowed_lateness', ...(isRule ? ['rule'] : ['window', 'aggregates'])]);
  const schema = typeof spec.input === 'string' ? schemas.get(spec.input) : undefined;
  if (!schema) {
    // A declared schema too broken to check against has its own problems listed; not again here.
    if (typeof spec.input === 'string' && p.reported(`schemas.${spec.input}`)) return checkWithoutSchema(p, path, spec, isRule);
    p.add(`${path}.input`, spec.input === undefined ? 'required: the schema this pipeline reads' : `${q(spec.input)} is not a schema of this file${schemas.size > 0 ? ` (${[...schemas.keys()].map(q).join(', ')})` : ''}`);
    checkWithoutSchema(p, path, spec, isRule);
    return undefined;
  }
  const where = parseConditions(p, `${path}.where`, spec.where, schema);
  const bound = spec.max_out_of_orderness === undefined ? DEFAULT_MAX_OUT_OF_ORDERNESS : p.duration(`${path}.max_out_of_orderness`, spec.max_out_of_orderness, false);
  const lateness = spec.allowed_lateness === undefined ? DEFAULT_ALLOWED_LATENESS : p.duration(`${path}.allowed_lateness`, spec.allowed_lateness, false);
  const base = {
    name, ...(typeof spec.description === 'string' ? { description: spec.description } : {}), schema, where,
    watermark: { maxOutOfOrderness: bound ?? 0 }, allowedLateness: lateness ?? 0,
  };
  const checkKey = (k: unknown, at: string): k is string => p.field(at, schema, k, `${q(k)} is not a field of schema ${q(schema.name)}`) !== undefined;
  if (isRule) {
    // A rule runs per key: none given is "required", not "nothing is not a field".
    // A list, as windowed pipelines take, was "["device_id"] is not a field": say a rule takes one.
    const key = spec.key === undefined ? (p.add(`${path}.key`, 'required: the field a rule runs per (one field)'), undefined)
      : Array.isArray(spec.key) ? (p.add(`${path}.key`, `a rule runs per one field, not a list: ${spec.key.length === 1 ? `write "key": ${q(spec.key[0])}` : `got ${spec.key.length} (${q(spec.key)})`}`), undefined)
      : checkKey(spec.key, `${path}.key`) ? (spec.key as string) : undefined;
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
      const { spec: plain, where: filter } = parseAggregateFilter(p, `${path}.aggregates.${output}`, text, schema);
      const aggregate = parseAggregate(p, `${path}.aggregates.${output}`, plain, schema);
      if (aggregate) aggregates.push({ output, aggregate, ...(filter ? { where: filter } : {}) });
    }
  }
  if (!window || key.length !== keys.length || bound === undefined || lateness === undefined) return undefined;
  return { ...base, kind: 'windowed', key, window, aggregates };
}
