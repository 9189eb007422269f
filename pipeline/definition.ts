import { createHash } from 'node:crypto';
import type { EventSchema } from '../schemas/schema.ts';
import type { AggregateSpec } from './aggregates.ts';
import { DefinitionError } from './errors.ts';
import type { Millis } from './time.ts';
import { checkWindow, type WindowSpec } from './windows.ts';

/** Bounded out-of-orderness watermark: W := max(W, ts - maxOutOfOrderness - 1), per source. */
export interface WatermarkSpec {
  readonly maxOutOfOrderness: Millis;
}

interface PipelineBase {
  readonly name: string;
  readonly description: string;
  readonly schema: EventSchema;
  readonly watermark: WatermarkSpec;
  readonly allowedLateness: Millis;
}

export interface NamedAggregate {
  /** Output field name, e.g. `views`. */
  readonly output: string;
  readonly aggregate: AggregateSpec;
}

/** Windowed aggregation: key -> window -> aggregates. An empty key means one global group. */
export interface WindowedPipeline extends PipelineBase {
  readonly kind: 'windowed';
  readonly key: readonly string[];
  readonly window: WindowSpec;
  readonly aggregates: readonly NamedAggregate[];
}

/**
 * Per-event lookback rule: for each event t of a key (ordered by (ts, id)), C(t) = distinct `field`
 * values of that key's events t' with ts(t) - span < ts(t') and (ts', id') <= (ts, id).
 * Alert at t when |C(t)| > threshold and the key's previous event did not satisfy it.
 */
export interface DistinctOverLookbackRule {
  readonly kind: 'distinct_over_lookback';
  readonly field: string;
  /** Output field holding the sorted distinct values, e.g. `countries`. */
  readonly output: string;
  readonly span: Millis;
  readonly threshold: number;
}

export interface RulePipeline extends PipelineBase {
  readonly kind: 'rule';
  readonly key: string;
  readonly rule: DistinctOverLookbackRule;
}

export type PipelineDefinition = WindowedPipeline | RulePipeline;

export const DEFAULT_MAX_OUT_OF_ORDERNESS: Millis = 30_000;
export const DEFAULT_ALLOWED_LATENESS: Millis = 5 * 60_000;

export function checkDefinition(def: PipelineDefinition): PipelineDefinition {
  const fields = def.schema.fields;
  const need = (name: string, role: string) => {
    if (!(name in fields)) throw new DefinitionError(`${def.name}: ${role} "${name}" is not a field of schema ${def.schema.name}`);
  };
  for (const [what, v] of [['maxOutOfOrderness', def.watermark.maxOutOfOrderness], ['allowedLateness', def.allowedLateness]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new DefinitionError(`${def.name}: ${what} must be a non-negative integer of ms, got ${v}`);
  }
  if (def.kind === 'windowed') {
    checkWindow(def.window);
    def.key.forEach((k) => need(k, 'key'));
    for (const a of def.aggregates) {
      const spec = a.aggregate;
      if (spec.kind === 'count') continue;
      need(spec.field, `aggregate ${a.output}`);
      if ((spec.kind === 'sum' || spec.kind === 'min' || spec.kind === 'max') && fields[spec.field]!.kind === 'string') {
        throw new DefinitionError(`${def.name}: aggregate ${a.output} (${spec.kind}) needs a numeric field (timestamp or minor units); "${spec.field}" is a string`);
      }
    }
    const outputs = [...def.key, ...def.aggregates.map((a) => a.output)];
    if (new Set(outputs).size !== outputs.length) throw new DefinitionError(`${def.name}: output field names must be unique: ${outputs.join(', ')}`);
  } else {
    need(def.key, 'key');
    need(def.rule.field, 'rule field');
    if (!Number.isInteger(def.rule.span) || def.rule.span <= 0) throw new DefinitionError(`${def.name}: rule span must be a positive integer of ms`);
    if (!Number.isInteger(def.rule.threshold) || def.rule.threshold < 0) throw new DefinitionError(`${def.name}: rule threshold must be a non-negative integer`);
  }
  return def;
}

/** The event fields a definition reads (time and id included): what a runtime has to load. */
export function fieldsRead(def: PipelineDefinition): string[] {
  const fields = new Set([def.schema.timeField, def.schema.idField]);
  if (def.kind === 'windowed') {
    def.key.forEach((k) => fields.add(k));
    for (const a of def.aggregates) if (a.aggregate.kind !== 'count') fields.add(a.aggregate.field);
  } else {
    fields.add(def.key);
    fields.add(def.rule.field);
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
  const canonical = JSON.stringify(def, (key, value) => {
    if (key === 'schema') return { name: (value as EventSchema).name, fields: Object.keys((value as EventSchema).fields) };
    if (key === 'description') return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}
