/**
 * An aggregate's own filter in a definitions file: a trailing options object on its list,
 * `["count", {"where": [...]}]`, `["sum", "bytes", {"where": [...]}]`, checked with the pipeline
 * `where`'s condition language (parse-conditions-spec.ts).
 */

import type { EventSchema } from '../schemas/schema.ts';
import { isObject, q, type Problems } from './definitions-problems.ts';
import type { Condition } from './filter.ts';
import { parseConditions } from './parse-conditions-spec.ts';

export interface SplitAggregate {
  /** The aggregate without its options object, for `parseAggregate`. */
  readonly spec: unknown;
  /** The aggregate's conditions; absent without any (an empty list filters nothing: the version stays). */
  readonly where?: Condition[];
}

export function parseAggregateFilter(p: Problems, path: string, text: unknown, schema: EventSchema): SplitAggregate {
  if (!Array.isArray(text) || text.length < 2 || !isObject(text[text.length - 1])) return { spec: text };
  const options = text[text.length - 1] as Record<string, unknown>;
  const spec = text.slice(0, -1);
  p.keys(path, options, ['where']);
  if (options.where === undefined) {
    // An unknown key was named just now (likely a slip of "where"): one mistake, one line.
    if (Object.keys(options).length === 0) p.add(path, `an aggregate's options object takes "where": a list of conditions, e.g. {"where": [["status", ">=", 500]]}; got ${q(options)}`);
    return { spec };
  }
  const where = parseConditions(p, `${path}.where`, options.where, schema);
  return where.length === 0 ? { spec } : { spec, where };
}
