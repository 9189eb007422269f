import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A field refused for several reasons: the summary says how many were which (it said `23 items: refused
// for several values or reasons (the first: ...)`), counted as the dead-letter file counts them.
const ws = tempWorkspace('concord-rejection-split-');
afterAll(() => ws.cleanup());

/** The dead letters' reasons by what the integer check said, read apart from the summary's grouping. */
const CLASSES: Array<[name: string, test: RegExp]> = [
  ['string', /^items: expected an integer, got string "/],
  ['fraction', /^items: [\d.e+-]+ is not an integer within/],
  ['boolean', /^items: expected an integer, got boolean /],
  ['array', /^items: expected an integer, got an array$/],
];

describe('stream summary: one field refused for several reasons', () => {
  it('names each reason with its count, as many as the dead letters hold of it, the others added up', () => {
    const bad: Record<string, unknown[]> = {
      string: Array.from({ length: 9 }, (_, i) => `${i}`),
      fraction: Array.from({ length: 7 }, (_, i) => i + 0.5),
      boolean: [true, false, true, false, true],
      array: [[1], [2, 3]],
    };
    const values = [...Object.values(bad).flat(), ...Array.from({ length: 10 }, (_, i) => i)];
    const defs = ws.file('orders.definitions.json', [{
      schemas: { orders: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', items: 'int' } } },
      pipelines: { orders_1m: { input: 'orders', window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
    }]);
    // Interleaved, so that the first of each reason is not the first line.
    const order = values.map((v, i) => ({ v, i, at: (i * 7919) % values.length })).sort((a, b) => a.at - b.at);
    const input = ws.file('orders.jsonl', order.map(({ v, i }) => ({ id: `o${i}`, ts: i * 1000, items: v })));
    const dlq = ws.file('orders.dlq.jsonl');
    const r = concord(['stream', '--definitions', defs, '--pipeline', 'orders_1m', '--input', input, '--output', ws.file('orders.out.jsonl'), '--dead-letter', dlq]);
    expect(r.code, r.stderr).toBe(0);

    const reasons = readFileSync(dlq, 'utf8').trim().split('\n').map((l) => String(JSON.parse(l).reason));
    const counted = new Map(CLASSES.map(([name, test]) => [name, reasons.filter((x) => test.test(x)).length]));
    expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(Object.entries(bad).map(([k, v]) => [k, v.length])));

    const line = r.stderr.split('\n').find((l) => l.startsWith('  rejected by reason: '));
    const split = /^ {2}rejected by reason: (\d+) items: refused for (\d+) reasons \((.*)\)$/.exec(line ?? '');
    expect(split, r.stderr).not.toBeNull();
    expect(Number(split![1])).toBe(reasons.length);
    expect(Number(split![2])).toBe(CLASSES.length);
    // The three most frequent with their counts, then what the fourth adds up to.
    const parts = split![3]!.split('; ');
    expect(parts).toHaveLength(4);
    for (const [i, name] of ['string', 'fraction', 'boolean'].entries()) {
      const [, n, text] = /^(\d+) (.*)$/.exec(parts[i]!)!;
      expect(CLASSES.find(([c]) => c === name)![1].test(`items: ${text}`), parts[i]).toBe(true);
      expect(Number(n)).toBe(counted.get(name));
    }
    expect(parts[3]).toBe(`and ${counted.get('array')} more for 1 other reason`);
    // The warning (most lines refused) names the same split.
    expect(r.stderr).toContain(`of them for: items: refused for 4 reasons (${split![3]})`);
  });
});
