import { isFloatingAggregate, isFloatingRuleSum, sameNumber } from './aggregates.ts';
import type { PipelineDefinition } from './definition.ts';

/**
 * The outputs of `def` compared within FLOAT_TOLERANCE: sums and averages of `double` fields (a rule's
 * sum measure too). Their last bits depend on the order of additions, which differs between the stream's
 * partial merges, the shadow run, the replay and the two stores' SQL; everything else, decimals
 * included, compares exactly.
 */
export function floatingOutputs(def: PipelineDefinition): ReadonlySet<string> {
  return def.kind === 'windowed'
    ? new Set(def.aggregates.filter((a) => isFloatingAggregate(a.aggregate, def.schema)).map((a) => a.output))
    : new Set(isFloatingRuleSum(def.rule, def.schema) ? [def.rule.output] : []);
}

/** Two values of one output: equal, within tolerance for a floating output, or the same list (distinct values). */
function sameOutput(a: unknown, b: unknown, floating: boolean): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return sameNumber(a, b, floating);
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Same numbers in two value records of `def`'s cells (a window's outputs; a stored alert's id and
 * measure), as reconcile compares them: what the store counts as a change. A stored alert's `late` flag
 * says how the stream came to raise it (the replay marks none late), not what it found: an alert whose
 * only difference is that flag is no correction. Called per cell: no JSON.
 */
export function sameValuesOf(def: PipelineDefinition): (x: Readonly<Record<string, unknown>>, y: Readonly<Record<string, unknown>>) => boolean {
  const floating = floatingOutputs(def);
  const ignored = def.kind === 'rule' ? 'late' : undefined;
  return (x, y) => {
    for (const k in x) if (k !== ignored && !sameOutput(x[k], y[k], floating.has(k))) return false;
    for (const k in y) if (k !== ignored && !(k in x)) return false;
    return true;
  };
}
