import type { EventSchema } from '../schemas/schema.ts';
import { aggregateFunction, type AggregateFunction } from './aggregates.ts';
import type { NamedAggregate } from './definition.ts';
import { compileFilter } from './filter.ts';

/**
 * A pipeline's aggregate with its own `where` (`["count", {"where": [...]}]`): the aggregate's function,
 * fed only the events its filter keeps (the pipeline's `where` has kept them already). Merging,
 * results and checkpoints are the plain function's: the filter decides what goes in, not the state's
 * shape, so partials and snapshots read as before.
 */
export function namedAggregateFunction(a: NamedAggregate, schema: EventSchema): AggregateFunction<unknown> {
  const fn = aggregateFunction(a.aggregate, schema);
  const keep = compileFilter(a.where ?? []);
  if (!keep) return fn;
  return { ...fn, add: (acc, event) => (keep(event) ? fn.add(acc, event) : acc) };
}
