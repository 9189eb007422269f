import { clicksSchema } from '../schemas/clicks.ts';
import { transactionsSchema } from '../schemas/transactions.ts';
import { approxDistinct, count } from './aggregates.ts';
import {
  DEFAULT_ALLOWED_LATENESS,
  DEFAULT_MAX_OUT_OF_ORDERNESS,
  checkDefinition,
  type PipelineDefinition,
} from './definition.ts';
import { ConfigError } from './errors.ts';
import { DEFAULT_HLL_PRECISION } from './hyperloglog.ts';
import { tumbling } from './windows.ts';

const timing = {
  watermark: { maxOutOfOrderness: DEFAULT_MAX_OUT_OF_ORDERNESS },
  allowedLateness: DEFAULT_ALLOWED_LATENESS,
};

export const pageViewsPerMinute = checkDefinition({
  kind: 'windowed',
  name: 'page_views_per_minute',
  description: 'Page views per minute per URL',
  schema: clicksSchema,
  ...timing,
  key: ['url'],
  window: tumbling(60_000),
  aggregates: [{ output: 'views', aggregate: count() }],
});

export function uniqueVisitors5m(precision = DEFAULT_HLL_PRECISION): PipelineDefinition {
  return checkDefinition({
    kind: 'windowed',
    name: 'unique_visitors_5m',
    description: `Unique visitors per 5 minutes (HyperLogLog, 2^${precision} registers)`,
    schema: clicksSchema,
    ...timing,
    key: [],
    window: tumbling(5 * 60_000),
    aggregates: [{ output: 'visitors', aggregate: approxDistinct('visitor_id', precision) }],
  });
}

export function fraudMultiCountry(options: { threshold?: number; span?: number } = {}): PipelineDefinition {
  return checkDefinition({
    kind: 'rule',
    name: 'fraud_multi_country',
    description: 'Flag a user with transactions from more than 3 different countries within 10 minutes',
    schema: transactionsSchema,
    ...timing,
    key: 'user_id',
    rule: { kind: 'distinct_over_lookback', field: 'country', output: 'countries', span: options.span ?? 10 * 60_000, threshold: options.threshold ?? 3 },
  });
}

export const builtinPipelines: readonly PipelineDefinition[] = [pageViewsPerMinute, uniqueVisitors5m(), fraudMultiCountry()];

export function pipelineByName(name: string): PipelineDefinition {
  const found = builtinPipelines.find((p) => p.name === name);
  if (!found) {
    throw new ConfigError(`unknown pipeline "${name}"; built-in pipelines: ${builtinPipelines.map((p) => p.name).join(', ')}`);
  }
  return found;
}
