import type { WindowedPipeline } from './definition.ts';
import { envNumber } from './env-number.ts';
import { ConcordError } from './errors.ts';

/** Default memory an operator's open windows may hold (MB); env CONCORD_STATE_BUDGET_MB. */
export const DEFAULT_STATE_BUDGET_MB = 2048;

/** Open (window, key) cells held past the budget: a key-cardinality explosion, stopped before the heap is. */
export class StateBudgetError extends ConcordError {
  constructor(message: string) {
    super(message, { domain: 'user' });
  }
}

/**
 * Rough bytes one (window, key) cell costs on the heap: the pane, its id and key (measured: ~250 bytes
 * for a one-string key and a count) plus its accumulators (a HyperLogLog holds 2^p registers).
 * count_distinct sets grow with their values and are counted at their base size only.
 */
export function cellBytes(def: WindowedPipeline): number {
  return 250 + 40 * def.key.length + def.aggregates.reduce((sum, a) => sum + (a.aggregate.kind === 'approx_distinct' ? 2 ** (a.aggregate.precision ?? 14) : 32), 0);
}

/** How many cells an operator may hold before it stops with a StateBudgetError. */
export function stateBudgetCells(def: WindowedPipeline, env: NodeJS.ProcessEnv = process.env): { cells: number; mb: number; perCell: number } {
  // A budget that is no number is refused (it fell back to 2048 MB silently: "512MB" was ignored).
  const mb = envNumber('CONCORD_STATE_BUDGET_MB', DEFAULT_STATE_BUDGET_MB, { min: 1, unit: 'megabytes' }, env);
  const perCell = cellBytes(def);
  return { cells: Math.max(1, Math.floor((mb * 2 ** 20) / perCell)), mb, perCell };
}

export function stateBudgetExceeded(def: WindowedPipeline, held: number, budget: { mb: number; perCell: number }): StateBudgetError {
  return new StateBudgetError(
    `${def.name} holds ${held.toLocaleString('en-US')} open (window, key) cells, over its state budget of ${budget.mb} MB ` +
    `(~${budget.perCell} bytes a cell): a key-cardinality explosion? Check the key fields (${def.key.join(', ') || 'none'}) and the input, ` +
    'shorten the window or the allowed lateness, or raise CONCORD_STATE_BUDGET_MB (and the heap: NODE_OPTIONS=--max-old-space-size=MB). ' +
    'Nothing committed is lost: a restart resumes from the last checkpoint.',
  );
}
