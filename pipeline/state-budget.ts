import type { AggregateSpec } from './aggregates.ts';
import type { RulePipeline, WindowedPipeline } from './definition.ts';
import { envNumber } from './env-number.ts';
import { ConcordError } from './errors.ts';

/** Default memory an operator's state (open windows, a rule's kept events) may hold (MB); env CONCORD_STATE_BUDGET_MB. */
export const DEFAULT_STATE_BUDGET_MB = 2048;

/** Open (window, key) cells or a rule's kept events held past the budget: stopped before the heap is. */
export class StateBudgetError extends ConcordError {
  constructor(message: string) {
    super(message, { domain: 'user' });
  }
}

/**
 * Rough bytes one (window, key) cell costs on the heap: the pane, its id and key (measured: ~250 bytes
 * for a one-string key and a count) plus its accumulators (a HyperLogLog holds 2^p registers).
 * count_distinct sets grow with their values and are counted at their base size only; an approx_percentile's
 * bucket map at a few dozen buckets (~1 KB; it grows with the spread of the values, at most 2^7 per power of two).
 */
export function cellBytes(def: WindowedPipeline): number {
  const bytes = (a: AggregateSpec) => (a.kind === 'approx_distinct' ? 2 ** (a.precision ?? 14) : a.kind === 'approx_percentile' ? 1024 : 32);
  return 250 + 40 * def.key.length + def.aggregates.reduce((sum, a) => sum + bytes(a.aggregate), 0);
}

/**
 * Rough bytes one event a rule keeps costs on the heap: the event (time, id, value, flags; measured:
 * 100,000 events of one key took 14 MB) and its share of its key's measure.
 */
export const RULE_EVENT_BYTES = 160;

/** How many cells (a windowed pipeline) or kept events (a rule) an operator may hold before it stops with a StateBudgetError. */
export function stateBudgetCells(def: WindowedPipeline | RulePipeline, env: NodeJS.ProcessEnv = process.env): { cells: number; mb: number; perCell: number } {
  // A budget that is no number is refused (it fell back to 2048 MB silently: "512MB" was ignored).
  const mb = envNumber('CONCORD_STATE_BUDGET_MB', DEFAULT_STATE_BUDGET_MB, { min: 1, unit: 'megabytes' }, env);
  const perCell = def.kind === 'windowed' ? cellBytes(def) : RULE_EVENT_BYTES;
  return { cells: Math.max(1, Math.floor((mb * 2 ** 20) / perCell)), mb, perCell };
}

export function stateBudgetExceeded(def: WindowedPipeline | RulePipeline, held: number, budget: { mb: number; perCell: number }): StateBudgetError {
  if (def.kind === 'rule') return ruleBudgetExceeded(def, held, budget);
  return new StateBudgetError(
    `${def.name} holds ${held.toLocaleString('en-US')} open (window, key) cells, over its state budget of ${budget.mb} MB ` +
    `(~${budget.perCell} bytes a cell): a key-cardinality explosion? Check the key fields (${def.key.join(', ') || 'none'}) and the input, ` +
    'shorten the window or the allowed lateness, or raise CONCORD_STATE_BUDGET_MB (and the heap: NODE_OPTIONS=--max-old-space-size=MB). ' +
    'Nothing committed is lost: a restart resumes from the last checkpoint.',
  );
}

/**
 * A rule keeps each key's events for its span and the allowed lateness: too many is a hot key (one card
 * with 100,000 transactions in 10 minutes: a replayed or generated stream?) or too many keys at once.
 */
function ruleBudgetExceeded(def: RulePipeline, held: number, budget: { mb: number; perCell: number }): StateBudgetError {
  return new StateBudgetError(
    `${def.name} keeps ${held.toLocaleString('en-US')} events (each key's events within its span and the allowed lateness), over its state budget of ${budget.mb} MB ` +
    `(~${budget.perCell} bytes an event): one key with a flood of events, or a key-cardinality explosion? Check the input by its key field (${def.key}), ` +
    'shorten the span or the allowed lateness, or raise CONCORD_STATE_BUDGET_MB (and the heap: NODE_OPTIONS=--max-old-space-size=MB). ' +
    'Nothing committed is lost: a restart resumes from the last checkpoint.',
  );
}
