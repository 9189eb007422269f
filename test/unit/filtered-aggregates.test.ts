import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { count, sum } from '../../pipeline/aggregates.ts';
import { checkDefinition, definitionVersion, type WindowedPipeline } from '../../pipeline/definition.ts';
import { defineDefinitions, parseDefinitions } from '../../pipeline/definitions-file.ts';
import { namedAggregateFunction } from '../../pipeline/filtered-aggregates.ts';
import { tumbling } from '../../pipeline/windows.ts';
import { describePipeline } from '../../serve/routes/pipelines.ts';
import type { AnyEvent } from '../../schemas/schema.ts';

// Per-aggregate filters (`["count", {"where": [...]}]`, SQL's `agg(...) FILTER (WHERE ...)`): parsing and
// its problems, the accumulators they feed, and the definition version.

const requests = {
  time: 'ts', id: 'id',
  fields: { id: 'string', ts: 'timestamp', status: 'int', bytes: 'int?', price: 'decimal(2)?', user_id: 'string', path: 'string' },
};
const errorRate = (aggregates: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  schemas: { requests },
  pipelines: { p: { input: 'requests', key: 'path', window: { tumbling: '1m' }, aggregates, ...extra } },
});
const ERRORS = [['status', '>=', 500]];
const pipeline = (file: unknown) => parseDefinitions(file, 'defs.json').pipeline('p') as WindowedPipeline;

const problems = (content: unknown): readonly string[] => definitionProblems(content, 'defs.json');

describe('aggregate filters: parsing', () => {
  it('reads a trailing {"where": [...]} on every aggregate shape, constants normalised as the pipeline where', () => {
    const p = pipeline(errorRate({
      requests: 'count',
      errors: ['count', { where: ERRORS }],
      error_bytes: ['sum', 'bytes', { where: ERRORS }],
      error_users: ['approx_distinct', 'user_id', { where: [['status', 'in', [500, 503]]] }],
      users_p12: ['approx_distinct', 'user_id', 12, { where: [['price', '>', '1.5']] }],
      late_ones: ['max', 'ts', { where: [['ts', '>=', '2024-01-01T00:00:30Z'], ['bytes', 'is not null']] }],
    }));
    expect(p.aggregates).toEqual([
      { output: 'requests', aggregate: { kind: 'count' } },
      { output: 'errors', aggregate: { kind: 'count' }, where: [{ field: 'status', op: '>=', value: 500 }] },
      { output: 'error_bytes', aggregate: { kind: 'sum', field: 'bytes' }, where: [{ field: 'status', op: '>=', value: 500 }] },
      { output: 'error_users', aggregate: { kind: 'approx_distinct', field: 'user_id', precision: 14 }, where: [{ field: 'status', op: 'in', value: [500, 503] }] },
      { output: 'users_p12', aggregate: { kind: 'approx_distinct', field: 'user_id', precision: 12 }, where: [{ field: 'price', op: '>', value: 150 }] },
      { output: 'late_ones', aggregate: { kind: 'max', field: 'ts' }, where: [{ field: 'ts', op: '>=', value: Date.UTC(2024, 0, 1, 0, 0, 30) }, { field: 'bytes', op: 'is not null' }] },
    ]);
    // What the API shows: the filter as the file writes it (decimals in major units, times as ISO).
    expect(describePipeline(p).aggregates![4]).toEqual({ name: 'users_p12', fn: 'approx_distinct', field: 'user_id', precision: 12, where: [{ field: 'price', op: '>', value: 1.5 }] });
    expect(describePipeline(p).aggregates![0]).toEqual({ name: 'requests', fn: 'count' });
  });

  it('a typed definitions module takes the filters (the types of `concord` a module imports)', () => {
    const file = defineDefinitions({
      schemas: { requests },
      pipelines: {
        p: {
          input: 'requests', key: 'path', window: { tumbling: '1m' },
          aggregates: { n: 'count', errors: ['count', { where: [['status', '>=', 500]] }], eb: ['sum', 'bytes', { where: [['status', '>=', 500]] }], u: ['approx_distinct', 'user_id', 12, { where: [['bytes', 'is null']] }] },
        },
      },
    });
    expect(pipeline(file).aggregates.map((a) => a.where?.length ?? 0)).toEqual([0, 1, 1, 1]);
  });

  it('an empty filter filters nothing: no `where` held', () => {
    expect(pipeline(errorRate({ n: ['count', { where: [] }] })).aggregates).toEqual([{ output: 'n', aggregate: { kind: 'count' } }]);
  });

  it('lists every problem of a filter at its place, in the pipeline where\'s words', () => {
    expect(problems(errorRate({
      a: ['count', { where: [['stat', '>=', 500]] }],
      b: ['sum', 'bytes', { where: [['status', '>=', 'lots']] }],
      c: ['count', { where: [['path', '<', '/a']] }],
      d: ['count', { where: [['status', 'like', 5]] }],
      e: ['count', { wher: ERRORS }],
      f: ['count', { where: 'status >= 500' }],
      g: ['min', 'status', { where: [['bytes', '=', null]] }],
      h: ['count', {}],
    }))).toEqual([
      'pipelines.p.aggregates.a.where[0]: "stat" is not a field of schema "requests" (did you mean "status"?)',
      'pipelines.p.aggregates.b.where[0]: value "lots" does not fit "status" (int): status: expected an integer, got string "lots"',
      'pipelines.p.aggregates.c.where[0]: "<" compares numbers and timestamps only; "path" is string',
      'pipelines.p.aggregates.d.where[0]: unknown operator "like"; use =, !=, <, <=, >, >=, in, not in, is null, is not null',
      'pipelines.p.aggregates.e: unknown key "wher" (did you mean "where"?); expected one of where',
      'pipelines.p.aggregates.f.where: expected a list of [field, op, value] conditions, got "status >= 500"',
      'pipelines.p.aggregates.g.where[0]: compare with null using "is null" / "is not null"',
      'pipelines.p.aggregates.h: an aggregate\'s options object takes "where": a list of conditions, e.g. {"where": [["status", ">=", 500]]}; got {}',
    ]);
  });

  it('a definition built in code: a filter on a field the schema lacks is refused', () => {
    const def = pipeline(errorRate({ n: 'count' }));
    expect(() => checkDefinition({ ...def, aggregates: [{ output: 'e', aggregate: count(), where: [{ field: 'nope', op: '=', value: 1 }] }] }))
      .toThrow('p: aggregate e where "nope" is not a field of schema requests');
    const ok = checkDefinition({ ...def, window: tumbling(60_000), aggregates: [{ output: 'e', aggregate: count(), where: [{ field: 'status', op: '=', value: 1 }] }] });
    expect(ok.kind === 'windowed' && ok.aggregates).toHaveLength(1);
  });
});

describe('aggregate filters: accumulators', () => {
  const def = pipeline(errorRate({ n: 'count' }));
  const events: AnyEvent[] = [
    { id: 'a', ts: 0, status: 200, bytes: 10, user_id: 'u', path: '/' },
    { id: 'b', ts: 1, status: 500, bytes: 20, user_id: 'u', path: '/' },
    { id: 'c', ts: 2, status: 503, user_id: 'v', path: '/' },
    { id: 'd', ts: 3, user_id: 'v', path: '/' }, // no status: a comparison with null is false, as in SQL
  ];
  const feed = (fn: ReturnType<typeof namedAggregateFunction>, es: readonly AnyEvent[]) => es.reduce((acc, e) => fn.add(acc, e), fn.create());

  it('feed only the events their filter keeps: count 0 and sum null over none', () => {
    const errors = namedAggregateFunction({ output: 'errors', aggregate: count(), where: [{ field: 'status', op: '>=', value: 500 }] }, def.schema);
    const errorBytes = namedAggregateFunction({ output: 'eb', aggregate: sum('bytes'), where: [{ field: 'status', op: '>=', value: 500 }] }, def.schema);
    expect(errors.result(feed(errors, events))).toBe(2);
    expect(errorBytes.result(feed(errorBytes, events))).toBe(20);
    const ok = events.slice(0, 1);
    expect(errors.result(feed(errors, ok))).toBe(0);
    expect(errorBytes.result(feed(errorBytes, ok))).toBeNull();
  });

  it('keep the plain function\'s state: checkpoints and partials of filtered and unfiltered read alike', () => {
    const plain = namedAggregateFunction({ output: 'n', aggregate: sum('bytes') }, def.schema);
    const filtered = namedAggregateFunction({ output: 'n', aggregate: sum('bytes'), where: [{ field: 'status', op: '>=', value: 500 }] }, def.schema);
    const acc = feed(filtered, events);
    expect(filtered.serialize(acc)).toEqual(plain.serialize(feed(plain, events.slice(1, 2))));
    // A partial merged across partitions: the filter decided what went in, the merge adds as before.
    const merged = filtered.merge(feed(filtered, events.slice(0, 2)), filtered.deserialize(filtered.serialize(feed(filtered, events.slice(2)))));
    expect(filtered.result(merged)).toBe(20);
  });
});

describe('aggregate filters: definition version', () => {
  it('a filter is part of the version; without one (or an empty one) the version is the unfiltered definition\'s', () => {
    const v = definitionVersion(pipeline(errorRate({ requests: 'count', errors: 'count' })));
    expect(definitionVersion(pipeline(errorRate({ requests: 'count', errors: ['count', { where: [] }] })))).toBe(v);
    const filtered = definitionVersion(pipeline(errorRate({ requests: 'count', errors: ['count', { where: ERRORS }] })));
    expect(filtered).not.toBe(v);
    expect(definitionVersion(pipeline(errorRate({ requests: 'count', errors: ['count', { where: [['status', '>=', 400]] }] })))).not.toBe(filtered);
    // The same condition on the pipeline instead is another definition (it drops the cells' other events).
    expect(definitionVersion(pipeline(errorRate({ requests: 'count', errors: 'count' }, { where: ERRORS })))).not.toBe(filtered);
  });
});
