import { describe, expect, it } from 'vitest';
import { approxPercentile, aggregateFunction } from '../../pipeline/aggregates.ts';
import { checkDefinition, definitionVersion, type WindowedPipeline } from '../../pipeline/definition.ts';
import { defineDefinitions, parseDefinitions } from '../../pipeline/definitions-file.ts';
import { cellBytes } from '../../pipeline/state-budget.ts';
import { describePipeline } from '../../serve/routes/pipelines.ts';
import { exactDigitsOf } from '../../store/rows.ts';
import { definitionProblems } from '../fixtures/definition-problems.ts';

// `["approx_percentile", FIELD, QUANTILE]` in a definitions file: parsing, its problems at their place,
// what the API lists, the definition version, and results in the field's units.

const requests = {
  time: 'ts', id: 'id',
  fields: { id: 'string', ts: 'timestamp', path: 'string', status: 'int', latency_ms: 'int?', price: 'decimal(2)?', size_kb: 'double?' },
};
const file = (aggregates: Record<string, unknown>) => ({
  schemas: { requests },
  pipelines: { p: { input: 'requests', key: 'path', window: { tumbling: '1m' }, aggregates } },
});
const pipeline = (f: unknown) => parseDefinitions(f, 'defs.json').pipeline('p') as WindowedPipeline;
const problems = (f: unknown) => definitionProblems(f, 'defs.json');

describe('approx_percentile in a definitions file', () => {
  it('reads a field and a quantile, with a filter last; the API lists its quantile', () => {
    const p = pipeline(file({ p99_ms: ['approx_percentile', 'latency_ms', 0.99], p50_5xx: ['approx_percentile', 'size_kb', 0.5, { where: [['status', '>=', 500]] }] }));
    expect(p.aggregates).toEqual([
      { output: 'p99_ms', aggregate: { kind: 'approx_percentile', field: 'latency_ms', quantile: 0.99 } },
      { output: 'p50_5xx', aggregate: { kind: 'approx_percentile', field: 'size_kb', quantile: 0.5 }, where: [{ field: 'status', op: '>=', value: 500 }] },
    ]);
    expect(describePipeline(p).aggregates).toEqual([
      { name: 'p99_ms', fn: 'approx_percentile', field: 'latency_ms', quantile: 0.99 },
      { name: 'p50_5xx', fn: 'approx_percentile', field: 'size_kb', quantile: 0.5, where: [{ field: 'status', op: '>=', value: 500 }] },
    ]);
    // A typed module takes it too.
    const typed = defineDefinitions({ schemas: { requests }, pipelines: { p: { input: 'requests', window: { tumbling: '1m' }, aggregates: { p99: ['approx_percentile', 'latency_ms', 0.99] } } } });
    expect(pipeline(typed).aggregates).toHaveLength(1);
  });

  it('names each problem at its place: the quantile out of (0, 1] (a whole percentile or text: what to write for it) or missing, a field that is no number', () => {
    expect(problems(file({
      p99_ms: ['approx_percentile', 'latency_ms', 1.5],
      zero: ['approx_percentile', 'latency_ms', 0],
      text: ['approx_percentile', 'latency_ms', '0.9'],
      p95: ['approx_percentile', 'latency_ms', 95],
      p23: ['approx_percentile', 'latency_ms', 23],
      p12: ['approx_percentile', 'latency_ms', 12],
      none: ['approx_percentile', 'latency_ms'],
      city: ['approx_percentile', 'path', 0.5],
      more: ['approx_percentile', 'latency_ms', 0.5, 14],
      nofield: ['approx_percentile'],
    }))).toEqual([
      'pipelines.p.aggregates.p99_ms: quantile 1.5 is not in (0, 1]: write the 99th percentile as 0.99',
      'pipelines.p.aggregates.zero: quantile 0 is not in (0, 1]: write the 99th percentile as 0.99',
      'pipelines.p.aggregates.text: quantile "0.9" is not in (0, 1]: write it as a number, 0.9, not as text',
      'pipelines.p.aggregates.p95: quantile 95 is not in (0, 1]: write the 95th percentile as 0.95',
      'pipelines.p.aggregates.p23: quantile 23 is not in (0, 1]: write the 23rd percentile as 0.23',
      'pipelines.p.aggregates.p12: quantile 12 is not in (0, 1]: write the 12th percentile as 0.12',
      'pipelines.p.aggregates.none: approx_percentile needs a quantile after its field: ["approx_percentile", "latency_ms", 0.99] for the 99th percentile',
      'pipelines.p.aggregates.city: approx_percentile needs a numeric field; "path" is a string',
      'pipelines.p.aggregates.more: approx_percentile takes a field and a quantile, got ["approx_percentile","latency_ms",0.5,14]',
      'pipelines.p.aggregates.nofield: approx_percentile needs a field: ["approx_percentile", FIELD] with FIELD one of schema "requests"\'s',
    ]);
  });

  it('a definition built in code: a quantile out of range or a text field is refused', () => {
    const def = pipeline(file({ n: 'count' }));
    expect(() => checkDefinition({ ...def, aggregates: [{ output: 'x', aggregate: approxPercentile('path', 0.5) }] })).toThrow('needs a numeric field; "path" is a string');
    expect(() => aggregateFunction(approxPercentile('latency_ms', 2), def.schema)).toThrow('approx_percentile quantile must be a number in (0, 1], got 2');
  });

  it('the quantile and the field are part of the definition version', () => {
    const v = (a: unknown) => definitionVersion(pipeline(file({ p: a })));
    expect(v(['approx_percentile', 'latency_ms', 0.99])).toBe(v(['approx_percentile', 'latency_ms', 0.99]));
    expect(v(['approx_percentile', 'latency_ms', 0.99])).not.toBe(v(['approx_percentile', 'latency_ms', 0.999]));
    expect(v(['approx_percentile', 'latency_ms', 0.99])).not.toBe(v(['approx_percentile', 'size_kb', 0.99]));
  });

  it('gives decimals in major units, null over no value; the store sums its decimals as whole minor units; a cell costs its map', () => {
    const p = pipeline(file({ p50_price: ['approx_percentile', 'price', 0.5], p: ['approx_percentile', 'size_kb', 1] }));
    const fn = aggregateFunction(p.aggregates[0]!.aggregate, p.schema);
    const acc = fn.create();
    expect(fn.result(acc)).toBeNull();
    for (const minor of [1234, 50, 9999]) fn.add(acc, { id: 'x', ts: 0, path: '/', status: 200, price: minor });
    fn.add(acc, { id: 'y', ts: 0, path: '/', status: 200 }); // no price: skipped
    expect(fn.result(acc)).toBe(12.32);
    expect(fn.result(fn.deserialize(JSON.parse(JSON.stringify(fn.serialize(acc)))))).toBe(12.32);
    expect(exactDigitsOf(p, 'p50_price')).toBe(2);
    expect(exactDigitsOf(p, 'p')).toBeNull();
    expect(cellBytes(p)).toBe(250 + 40 + 2 * 1024);
  });
});
