import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { definitionCaseArb } from '../fixtures/definition-arbitraries.ts';
import { definitionOracle } from '../fixtures/definition-oracle.ts';
import { diffRows } from '../fixtures/definition-oracle-diff.ts';
import { oracleDuration, oracleIso } from '../fixtures/definition-oracle-model.ts';
import type { Row } from '../fixtures/definition-oracle-result.ts';

// The oracle of the definitions property tests, checked by hand on tiny cases computed on paper from
// the contract (docs/semantics.md worked examples where they apply).

const sortRows = (rows: Row[]) => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe('definition oracle: parsing', () => {
  it('durations and timestamps', () => {
    expect([oracleDuration('500ms'), oracleDuration('30s'), oracleDuration('10m'), oracleDuration('1h'), oracleDuration(250), oracleDuration('0')]).toEqual([500, 30_000, 600_000, 3_600_000, 250, 0]);
    expect(oracleIso('1970-01-01T00:01:30.000Z')).toBe(90_000);
    expect(oracleIso('1970-01-01T02:00:00+02:00')).toBe(0);
    expect(oracleIso('1970-01-01T00:00:00.123999-0030')).toBe(1_800_123);
    expect(oracleIso('2026-11-24T10:00:00')).toBeUndefined(); // no zone: ambiguous, rejected
    expect(oracleIso('2026-02-29T00:00:00Z')).toBeUndefined();
  });
});

describe('definition oracle: windowed (the worked example of docs/semantics.md, keyed, with types)', () => {
  const file = {
    schemas: {
      rides: {
        time: 'ts', id: 'id',
        fields: { id: 'string', ts: 'timestamp', city: 'string?', fare: 'decimal(2)', km: 'double?', n: 'int' },
      },
    },
    pipelines: {
      per_city: {
        input: 'rides', key: 'city', window: { tumbling: '1m' }, max_out_of_orderness: '30s', allowed_lateness: 60_000,
        aggregates: { rides: 'count', revenue: ['sum', 'fare'], top: ['max', 'fare'], avg_km: ['avg', 'km'], ns: ['count_distinct', 'n'], approx: ['approx_distinct', 'id'] },
      },
      big_n: { input: 'rides', where: [['n', '>=', 2], ['city', 'is not null']], window: { hopping: '2m', every: '1m' }, aggregates: { rides: 'count', low: ['min', 'fare'] } },
    },
  };
  const lines = [
    JSON.stringify({ id: 'a', ts: 59_999, city: 'X', fare: '12.30', km: 1.5, n: 1 }),
    JSON.stringify({ id: 'b', ts: '1970-01-01T00:01:30.000Z', city: null, fare: 7.5, n: 2 }),
    JSON.stringify({ id: 'c', ts: 1_000, city: 'null', fare: '0.05', km: 0.25, n: 3 }),
    '{"id": "x", oops',
    JSON.stringify({ id: 'd', ts: 150_000, city: 'X', fare: '1.001', n: 1 }), // 3 decimals: dead letter
    JSON.stringify({ id: 'd', ts: '1970-01-01T00:02:30+00:00', city: 'X', fare: 1, n: 1, extra: true }),
    JSON.stringify({ id: 'e', ts: 2_000, city: 'X', fare: '100', n: 5 }),
  ];
  const w = (s: number) => new Date(s).toISOString();

  it('stream: W before each event decides; late for the window when end - 1 + L <= W; revisions', () => {
    // e0 (59 999) -> [0,1m) X; W = 29 998. e1 (90 000) -> [1m,2m) null; W = 59 999: [0,1m) fires.
    // e2 (1 000): 59 999 + 60 000 > 59 999, accepted after the firing: key "null" first seen -> revision 0.
    // e5 (150 000) -> [2m,3m) X; W = 119 999. e6 (2 000): 119 999 <= 119 999: late.
    const o = definitionOracle(file, 'per_city', lines, { mode: 'stream' });
    expect(o.deadLetters).toEqual([3, 4]);
    expect(o.late).toEqual([6]);
    expect(o.lateRecords).toEqual([[6, 119_999, 0, 60_000]]);
    expect(o.approx).toEqual(['approx']);
    expect(sortRows(o.rows)).toEqual(sortRows([
      { pipeline: 'per_city', window_start: w(0), window_end: w(60_000), city: 'X', rides: 1, revenue: 12.3, top: 12.3, avg_km: 1.5, ns: 1 },
      { pipeline: 'per_city', window_start: w(0), window_end: w(60_000), city: 'null', rides: 1, revenue: 0.05, top: 0.05, avg_km: 0.25, ns: 1 },
      { pipeline: 'per_city', window_start: w(60_000), window_end: w(120_000), city: null, rides: 1, revenue: 7.5, top: 7.5, avg_km: null, ns: 1 },
      { pipeline: 'per_city', window_start: w(120_000), window_end: w(180_000), city: 'X', rides: 1, revenue: 1, top: 1, avg_km: null, ns: 1 },
    ]));
    expect([...o.revisions.values()]).toEqual([0, 0, 0, 0]);
  });

  it('complete data: every valid event, lateness ignored', () => {
    const o = definitionOracle(file, 'per_city', lines, { mode: 'complete' });
    expect(o.rows.find((r) => r.window_start === w(0) && r.city === 'X')).toEqual(
      { pipeline: 'per_city', window_start: w(0), window_end: w(60_000), city: 'X', rides: 2, revenue: 112.3, top: 100, avg_km: 1.5, ns: 2 },
    );
    expect(o.rows).toHaveLength(4);
    const without = definitionOracle(file, 'per_city', lines, { mode: 'complete', exclude: new Set([6]) });
    expect(diffRows(without.rows, definitionOracle(file, 'per_city', lines, { mode: 'stream' }).rows, without)).toEqual([]);
  });

  it('where drops events without making them late; hopping windows; min of a decimal', () => {
    // Kept: b? city null -> no. c (n 3, city "null") and e (n 5, X). Dropped events still move W.
    // c (1 000) arrives with W = 59 999: windows [-1m,1m) (end - 1 + L = 119 999 > W) and [0,2m): accepted.
    // e (2 000) arrives with W = 119 999: [-1m,1m) late (59 999 + 60 000 <= 119 999), [0,2m) not: accepted,
    // [-1m,1m) skipped it (a skipped cell, not a late event).
    const o = definitionOracle({ ...file, pipelines: { big_n: { ...file.pipelines.big_n, allowed_lateness: '1m', max_out_of_orderness: '30s' } } }, 'big_n', lines, { mode: 'stream' });
    expect(o.late).toEqual([]);
    expect(sortRows(o.rows)).toEqual(sortRows([
      { pipeline: 'big_n', window_start: w(-60_000), window_end: w(60_000), rides: 1, low: 0.05 },
      { pipeline: 'big_n', window_start: w(0), window_end: w(120_000), rides: 2, low: 0.05 },
    ]));
    expect([...o.skippedCells]).toEqual([JSON.stringify(['big_n', w(-60_000)])]);
    expect(o.revisions.get(JSON.stringify(['big_n', w(0)]))).toBe(1); // fired at W = 119 999 with c, e re-emits
  });
});

describe('definition oracle: aggregates with filters of their own', () => {
  it('each aggregate over the cell events its filter keeps: count 0, sum and max null over none; the cell by the pipeline', () => {
    const file = {
      schemas: { rides: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', city: 'string?', fare: 'decimal(2)', km: 'double?', n: 'int' } } },
      pipelines: {
        p: {
          input: 'rides', key: 'city', window: { tumbling: '1m' },
          aggregates: { rides: 'count', big: ['count', { where: [['n', '>=', 2]] }], big_rev: ['sum', 'fare', { where: [['n', '>=', 2]] }], km3: ['max', 'km', { where: [['n', '>=', 3]] }] },
        },
      },
    };
    const lines = [
      JSON.stringify({ id: 'a', ts: 59_999, city: 'X', fare: '12.30', km: 1.5, n: 1 }),
      JSON.stringify({ id: 'b', ts: 90_000, city: null, fare: 7.5, n: 2 }),
      JSON.stringify({ id: 'c', ts: 1_000, city: 'null', fare: '0.05', km: 0.25, n: 3 }),
      JSON.stringify({ id: 'd', ts: 150_000, city: 'X', fare: 1, n: 1 }),
      JSON.stringify({ id: 'e', ts: 2_000, city: 'X', fare: '100', n: 5 }),
    ];
    const w = (s: number) => new Date(s).toISOString();
    const row = (start: number, city: string | null, values: Record<string, unknown>) => ({ pipeline: 'p', window_start: w(start), window_end: w(start + 60_000), city, ...values });
    // [0,1m) X: a (n 1) and e (n 5, no km); 'null': c (n 3); [1m,2m) null: b (n 2, no km); [2m,3m) X: d (n 1) alone.
    expect(sortRows(definitionOracle(file, 'p', lines, { mode: 'complete' }).rows)).toEqual(sortRows([
      row(0, 'X', { rides: 2, big: 1, big_rev: 100, km3: null }),
      row(0, 'null', { rides: 1, big: 1, big_rev: 0.05, km3: 0.25 }),
      row(60_000, null, { rides: 1, big: 1, big_rev: 7.5, km3: null }),
      row(120_000, 'X', { rides: 1, big: 0, big_rev: null, km3: null }),
    ]));
  });
});

describe('definition oracle: rules', () => {
  const schema = { time: 'ts', id: 'txn_id', fields: { txn_id: 'string', ts: 'timestamp', user: 'string', country: 'string?', amt: 'decimal(2)' } };
  const line = (id: string, ts: number, country: string | null, amt: unknown = '1.00', user = 'u1') => JSON.stringify({ txn_id: id, ts, user, country, amt });

  it('the five-row fraud case: the event one span back is out, a same-ts event with a larger id is out', () => {
    const file = { schemas: { t: schema }, pipelines: { fraud: { input: 't', key: 'user', rule: { within: '10m', distinct: 'country', more_than: 3, output: 'countries' }, max_out_of_orderness: 0, allowed_lateness: '1m' } } };
    const lines = [line('t1', 0, 'US'), line('t2', 300_000, 'FR'), line('t3', 400_000, 'DE'), line('t4', 600_000, 'IT'), line('t5', 600_000, 'ES')];
    const want = [{ pipeline: 'fraud', user: 'u1', txn_id: 't5', ts: new Date(600_000).toISOString(), countries: ['DE', 'ES', 'FR', 'IT'] }];
    expect(definitionOracle(file, 'fraud', lines, { mode: 'complete' }).rows).toEqual(want);
    expect(definitionOracle(file, 'fraud', lines, { mode: 'stream' }).rows).toEqual(want);
  });

  it('fraud lateness (B = 0, L = 60 s): a late event within L is evaluated on arrival; beyond L it is late', () => {
    const file = { schemas: { t: schema }, pipelines: { fraud: { input: 't', key: 'user', rule: { within: '10m', distinct: 'country', more_than: 3, output: 'countries' }, max_out_of_orderness: '0ms', allowed_lateness: '60s' } } };
    const lines = [line('x0', 50_000, 'ES'), line('x1', 100_000, 'US'), line('x2', 200_000, 'FR'), line('x3', 300_000, 'DE'), line('x4', 250_000, 'IT'), line('x5', 100_000, 'PL')];
    const stream = definitionOracle(file, 'fraud', lines, { mode: 'stream' });
    expect(stream.rows).toEqual([{ pipeline: 'fraud', user: 'u1', txn_id: 'x4', ts: new Date(250_000).toISOString(), countries: ['ES', 'FR', 'IT', 'US'] }]);
    expect(stream.late).toEqual([5]);
    expect(stream.lateRecords).toEqual([[5, 299_999, null, null]]);
    expect(stream.decidedLate).toEqual([4]);
    expect([...stream.keysDecidedLate]).toEqual(['["u1"]']);
    // Complete data: x5 (100 s, PL) is in C(x2) = {ES, US, PL, FR}: the alert is at x2.
    expect(definitionOracle(file, 'fraud', lines, { mode: 'complete' }).rows).toEqual(
      [{ pipeline: 'fraud', user: 'u1', txn_id: 'x2', ts: new Date(200_000).toISOString(), countries: ['ES', 'FR', 'PL', 'US'] }],
    );
  });

  it('sum of a decimal in major units, exact; count with duplicates and UTF-8 id order; null key apart from "null"', () => {
    const file = {
      schemas: { t: { ...schema, fields: { ...schema.fields, user: 'string?' } } },
      pipelines: {
        takings: { input: 't', key: 'user', rule: { within: '1s', sum: 'amt', more_than: 10, output: 'total' } },
        burst: { input: 't', key: 'user', rule: { within: '1s', count: true, more_than: 1, output: 'n' } },
      },
    };
    const sumLines = [line('a', 0, null, '6.00'), line('b', 500, null, 4.01), line('c', 1_000, null, '0.5'), line('d', 1_200, null, 6)];
    // b: 6.00 + 4.01 = 10.01 > 10. c: (0, 1000] holds b and c: 4.51. d: b, c, d = 10.51 > 10 after c did not.
    expect(definitionOracle(file, 'takings', sumLines, { mode: 'complete' }).rows.map((r) => [r.txn_id, r.total])).toEqual([['b', 10.01], ['d', 10.51]]);
    // Duplicates of (ts, id) count each other: M = 2 at the first, whose predecessor did not exceed.
    const dup = line('x', 0, null);
    expect(definitionOracle(file, 'burst', [dup, dup], { mode: 'complete' }).rows.map((r) => [r.txn_id, r.n])).toEqual([['x', 2]]);
    // Same ts: '\uFF5E' < '😀' in UTF-8 bytes (not in UTF-16): the second in (ts, id) order is '😀'.
    expect(definitionOracle(file, 'burst', [line('😀', 0, null), line('\uFF5E', 0, null)], { mode: 'complete' }).rows.map((r) => r.txn_id)).toEqual(['😀']);
    // A null user and the user "null" are two keys: no burst.
    const nullKey = [JSON.stringify({ txn_id: 'p', ts: 0, amt: 1 }), JSON.stringify({ txn_id: 'q', ts: 1, user: 'null', amt: 1 })];
    expect(definitionOracle(file, 'burst', nullKey, { mode: 'complete' }).rows).toEqual([]);
    expect(definitionOracle(file, 'burst', [...nullKey, JSON.stringify({ txn_id: 'r', ts: 2, user: null, amt: 1 })], { mode: 'complete' }).rows)
      .toEqual([{ pipeline: 'burst', user: null, txn_id: 'r', ts: new Date(2).toISOString(), n: 2 }]);
  });
});

describe('definition arbitraries', () => {
  it('produce files the oracle reads, events with dead letters, late events and duplicates', () => {
    let cases = 0, dead = 0, late = 0;
    fc.assert(
      fc.property(definitionCaseArb(), (c) => {
        cases++;
        for (const p of c.pipelines) {
          const o = definitionOracle(c.file, p, c.lines, { mode: 'stream' });
          expect(o.deadLetters).toEqual(c.meantInvalid);
          dead += o.deadLetters.length;
          late += o.late.length;
        }
      }),
      { numRuns: 200 },
    );
    expect(cases).toBe(200);
    expect(dead).toBeGreaterThan(0);
    expect(late).toBeGreaterThan(0);
  });
});
