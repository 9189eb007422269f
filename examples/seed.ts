import { readFileSync } from 'node:fs';
import { seedDefinitionsPath } from './seed-path.ts';
import { approxDistinct } from '../pipeline/aggregates.ts';
import { checkDefinition, type PipelineDefinition, type RulePipeline, type WindowedPipeline } from '../pipeline/definition.ts';
import { parseDefinitions } from '../pipeline/definitions-file.ts';
import { DEFAULT_HLL_PRECISION } from '../pipeline/hyperloglog.ts';
import type { Registry } from '../pipeline/registry.ts';
import type { EventSchema } from '../schemas/schema.ts';

/**
 * The seed pipelines (page views, unique visitors, card fraud) as an example definitions file: what
 * every command runs without `--definitions`, and what tests, benchmarks and the generator use.
 */
export { seedDefinitionsPath };

let seed: Registry | undefined;

export function seedRegistry(): Registry {
  return (seed ??= parseDefinitions(JSON.parse(readFileSync(seedDefinitionsPath, 'utf8')), seedDefinitionsPath));
}

// The seed definitions by name, for tests, benchmarks and the generator (never imported below cli/).
const seedPipeline = (name: string) => seedRegistry().pipeline(name);

export const pageViewsPerMinute = seedPipeline('page_views_per_minute') as WindowedPipeline;

/** Unique visitors per 5 minutes, at another HyperLogLog precision when asked. */
export function uniqueVisitors5m(precision = DEFAULT_HLL_PRECISION): WindowedPipeline {
  const def = seedPipeline('unique_visitors_5m') as WindowedPipeline;
  if (precision === DEFAULT_HLL_PRECISION) return def;
  return checkDefinition({
    ...def,
    description: `Unique visitors per 5 minutes (HyperLogLog, 2^${precision} registers)`,
    aggregates: [{ output: 'visitors', aggregate: approxDistinct('visitor_id', precision) }],
  }) as WindowedPipeline;
}

/** The fraud rule, with another threshold or span when asked. */
export function fraudMultiCountry(options: { threshold?: number; span?: number } = {}): RulePipeline {
  const def = seedPipeline('fraud_multi_country') as RulePipeline;
  return checkDefinition({ ...def, rule: { ...def.rule, threshold: options.threshold ?? def.rule.threshold, span: options.span ?? def.rule.span } }) as RulePipeline;
}

export const seedPipelines: readonly PipelineDefinition[] = seedRegistry().pipelines;

export const clicksSchema: EventSchema = seedRegistry().schema('clicks');
export const transactionsSchema: EventSchema = seedRegistry().schema('transactions');

/** A normalised click of the seed `clicks` schema (what the generator writes). */
export interface ClickEvent {
  event_id: string;
  ts: number;
  url: string;
  visitor_id: string;
  country?: string;
  referrer?: string;
  user_agent?: string;
}

/** A normalised seed transaction: `amount` in integer minor units (decimal(2)). */
export interface TransactionEvent {
  txn_id: string;
  ts: number;
  user_id: string;
  country: string;
  amount: number;
  currency?: string;
  merchant?: string;
}

export const seedPipelineNames: readonly string[] = seedPipelines.map((p) => p.name);
