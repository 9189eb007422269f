import { createHash } from 'node:crypto';
import { isNumericKind, type EventSchema } from '../schemas/schema.ts';
import type { AggregateSpec } from './aggregates.ts';
import type { Condition } from './filter.ts';
import { DefinitionError } from './errors.ts';
import type { Millis } from './time.ts';
import { checkWindow, type WindowSpec } from './windows.ts';

/** Bounded out-of-orderness watermark: W := max(W, ts - maxOutOfOrderness - 1), per source. */
export interface WatermarkSpec {
  readonly maxOutOfOrderness: Millis;
}

interface PipelineBase {
  readonly name: string;
  /** What the pipeline is for, as its author wrote it; absent when none was given (never the name again). */
  readonly description?: string;
  readonly schema: EventSchema;
  readonly watermark: WatermarkSpec;
  readonly allowedLateness: Millis;
  /** Events kept (AND); an empty list keeps every event. Dropped events still advance the watermark. */
  readonly where: readonly Condition[];
}

export interface NamedAggregate {
  /** Output field name, e.g. `views`. */
  readonly output: string;
  readonly aggregate: AggregateSpec;
  /**
   * The events this aggregate takes, after the pipeline's `where` (AND, like SQL's `agg(...) FILTER (WHERE ...)`);
   * absent (never empty) for every event the pipeline keeps, so a definition without filters keeps its version.
   */
  readonly where?: readonly Condition[];
}

/** Windowed aggregation: key -> window -> aggregates. An empty key means one global group. */
export interface WindowedPipeline extends PipelineBase {
  readonly kind: 'windowed';
  readonly key: readonly string[];
  readonly window: WindowSpec;
  readonly aggregates: readonly NamedAggregate[];
}

/**
 * Per-event lookback rule: for each event t of a key (ordered by (ts, id)), the measure M over that key's
 * events t' with ts(t) - span < ts(t') and (ts', id') <= (ts, id): the number of distinct non-null
 * `field` values, the number of events, or the sum of `field`. Alert at t when M > threshold and the
 * key's previous event did not satisfy it.
 */
export interface LookbackRule {
  readonly kind: 'lookback';
  readonly measure: 'distinct' | 'count' | 'sum';
  /** The measured field (distinct, sum); absent for count. */
  readonly field?: string;
  /** Output field: the sorted distinct values (distinct), M (count, sum), e.g. `countries`. */
  readonly output: string;
  readonly span: Millis;
  /** In the field's internal units (minor units for decimals). */
  readonly threshold: number;
}

export interface RulePipeline extends PipelineBase {
  readonly kind: 'rule';
  readonly key: string;
  readonly rule: LookbackRule;
}

export type PipelineDefinition = WindowedPipeline | RulePipeline;

export const DEFAULT_MAX_OUT_OF_ORDERNESS: Millis = 30_000;
export const DEFAULT_ALLOWED_LATENESS: Millis = 5 * 60_000;

/** Output row fields Concord writes itself: a key or output must not take one of these names. */
export const RESERVED_OUTPUT_NAMES: readonly string[] = ['pipeline', 'window_start', 'window_end', 'revision', 'watermark', 'definition_version', 'ts', 'late'];

/**
 * Checks a definition built in code (the definitions file is checked earlier, with every error at once,
 * by definitions-file.ts); throws the first problem.
 */
export function checkDefinition(def: PipelineDefinition): PipelineDefinition {
  const fields = def.schema.fields;
  const need = (name: string, role: string) => {
    if (!(name in fields)) throw new DefinitionError(`${def.name}: ${role} "${name}" is not a field of schema ${def.schema.name}`);
  };
  for (const [what, v] of [['maxOutOfOrderness', def.watermark.maxOutOfOrderness], ['allowedLateness', def.allowedLateness]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new DefinitionError(`${def.name}: ${what} must be a non-negative integer of ms, got ${v}`);
  }
  def.where.forEach((c) => need(c.field, 'where'));
  if (def.kind === 'windowed') {
    checkWindow(def.window);
    def.key.forEach((k) => need(k, 'key'));
    for (const a of def.aggregates) {
      a.where?.forEach((c) => need(c.field, `aggregate ${a.output} where`));
      const spec = a.aggregate;
      if (spec.kind === 'count') continue;
      need(spec.field, `aggregate ${a.output}`);
      const kind = fields[spec.field]!.kind;
      const ok = spec.kind === 'sum' || spec.kind === 'avg' || spec.kind === 'approx_percentile' ? isNumericKind(kind) : spec.kind === 'min' || spec.kind === 'max' ? isNumericKind(kind) || kind === 'timestamp' : true;
      if (!ok) throw new DefinitionError(`${def.name}: aggregate ${a.output} (${spec.kind}) needs a numeric field; "${spec.field}" is a ${kind}`);
    }
    const outputs = [...def.key, ...def.aggregates.map((a) => a.output)];
    if (new Set(outputs).size !== outputs.length) throw new DefinitionError(`${def.name}: output field names must be unique: ${outputs.join(', ')}`);
  } else {
    need(def.key, 'key');
    if (def.rule.field !== undefined) need(def.rule.field, 'rule field');
    if (def.rule.measure === 'sum' && !isNumericKind(fields[def.rule.field!]!.kind)) throw new DefinitionError(`${def.name}: rule sum needs a numeric field`);
    if (!Number.isInteger(def.rule.span) || def.rule.span <= 0) throw new DefinitionError(`${def.name}: rule span must be a positive integer of ms`);
    if (!Number.isFinite(def.rule.threshold)) throw new DefinitionError(`${def.name}: rule threshold must be a finite number`);
  }
  return def;
}

/** The event fields a definition reads (time and id included): what a runtime has to load. */
export function fieldsRead(def: PipelineDefinition): string[] {
  const fields = new Set([def.schema.timeField, def.schema.idField]);
  def.where.forEach((c) => fields.add(c.field));
  if (def.kind === 'windowed') {
    def.key.forEach((k) => fields.add(k));
    for (const a of def.aggregates) {
      if (a.aggregate.kind !== 'count') fields.add(a.aggregate.field);
      a.where?.forEach((c) => fields.add(c.field));
    }
  } else {
    fields.add(def.key);
    if (def.rule.field !== undefined) fields.add(def.rule.field);
  }
  return [...fields];
}

/** Same definition with other watermark bound / lateness (CLI overrides). */
export function withTiming(def: PipelineDefinition, timing: { maxOutOfOrderness?: Millis; allowedLateness?: Millis }): PipelineDefinition {
  return checkDefinition({
    ...def,
    watermark: { maxOutOfOrderness: timing.maxOutOfOrderness ?? def.watermark.maxOutOfOrderness },
    allowedLateness: timing.allowedLateness ?? def.allowedLateness,
  });
}

/**
 * Version of a definition: a short hash over its canonical JSON (the schema by name and field list).
 * Stored on every result row, so reconciliation knows which definition produced it.
 */
export function definitionVersion(def: PipelineDefinition): string {
  const read = fieldsRead(def);
  const canonical = JSON.stringify(def, (key, value) => {
    // The schema by name and the fields the definition reads with their types: a field added to the
    // schema for another pipeline does not change this one's version.
    if (key === 'schema') {
      const schema = value as EventSchema;
      return {
        name: schema.name, fields: read.map((n) => [n, schema.fields[n]?.kind ?? null, schema.fields[n]?.scale ?? null]),
        // Which events count depends on the time quarantine too (null: off; JSON has no Infinity).
        ...(schema.maxFutureSkewMs === undefined ? {} : { maxFutureSkew: Number.isFinite(schema.maxFutureSkewMs) ? schema.maxFutureSkewMs : null }),
        ...(schema.pastHorizonMs === undefined ? {} : { pastHorizon: schema.pastHorizonMs }),
        // The unit changes the time of events both would take (absent when "ms": versions stay as they were).
        ...(schema.epochUnit === undefined ? {} : { epochUnit: schema.epochUnit }),
        // The zone changes the time of events without one (absent: they are refused, and versions stay as they were).
        ...(schema.timeZone === undefined ? {} : { timeZone: schema.timeZone }),
      };
    }
    if (key === 'description') return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/**
 * A hopping pipeline: the only kind whose window assignments skipped as late (an event late for its older
 * windows, taken by the newer ones) differ from its late events.
 */
export function isHopping(def: PipelineDefinition): boolean {
  return def.kind === 'windowed' && def.window.kind === 'hopping';
}
