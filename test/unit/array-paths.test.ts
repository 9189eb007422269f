import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { parsePathText } from '../../pipeline/parse-field-paths.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { dottedPath, pathText, valueAtPath, type FieldPath, type PathStep } from '../../schemas/field-paths.ts';
import { recordKey } from '../../stream/kafka/topics.ts';

// Producers send arrays (`{"items": [{"sku": "a", "price": 3}], "geo": {"coords": [1.2, 3.4]}}`): a
// schema's `paths` reads an element as Flink's JSON_VALUE reads `$.items[0].price` (and `[-1]`, the
// last, as its Jayway JsonPath does). Before, an array on the way was a dead letter and `"items[0]"`
// was taken for a key named "items[0]".
const orders = (paths: Record<string, unknown>) => ({
  schemas: { orders: {
    time: 'ts', id: 'order_id', key: 'sku',
    fields: { order_id: 'string', ts: 'timestamp', sku: 'string', price: 'decimal(2)?', tag: 'string?', lon: 'double', last_tag: 'string?' },
    paths,
  } },
  pipelines: { per_sku: { input: 'orders', key: 'sku', window: { tumbling: '1m' }, aggregates: { n: 'count', revenue: ['sum', 'price'] } } },
});
const arrays = { sku: 'items[0].sku', price: ['items', 0, 'price'], tag: 'tags[0]', lon: 'geo.coords[0]', last_tag: 'tags[-1]' };
const TS = '2026-11-23T10:00:05Z';
const line = (o: Record<string, unknown>): string => JSON.stringify({ order_id: 'o1', ts: TS, ...o });
const decode = (text: string, paths: Record<string, unknown> = arrays) => decodeLine(parseDefinitions(orders(paths), 'd.json').schema('orders'), text, { source: 'file:x.jsonl', offset: 0 });
const reason = (text: string, paths?: Record<string, unknown>): string | null => {
  const out = decode(text, paths);
  return out.ok ? null : out.deadLetter.reason;
};
const full = { items: [{ sku: 'a', price: 3 }, { sku: 'b', price: '4.50' }], tags: ['x', 'y', 'z'], geo: { coords: [1.2, 3.4] } };

describe('array elements on a path', () => {
  it('reads an element by its index, from the start or (negative) from the end, in both written forms', () => {
    expect(decode(line(full))).toEqual({ ok: true, event: { order_id: 'o1', ts: Date.parse(TS), sku: 'a', price: 300, tag: 'x', lon: 1.2, last_tag: 'z' } });
    expect(decode(line({ ...full, items: [{ sku: 'b' }, { sku: 'c' }] }), { ...arrays, sku: 'items[1].sku', price: 'items[-1].price' })).toMatchObject({ ok: true, event: { sku: 'c' } });
    // Arrays of arrays, and a path from the field's own name whose value became an array.
    expect(decode(line({ ...full, m: [[0, 1], [2, 3]] }), { ...arrays, lon: 'm[1][0]' })).toMatchObject({ ok: true, event: { lon: 2 } });
    expect(decode(line({ ...full, lon: [5.5, 6.6] }), { ...arrays, lon: 'lon[-1]' })).toMatchObject({ ok: true, event: { lon: 6.6 } });
    expect(decode(line({ ...full, lon: 7.7 }), { ...arrays, lon: 'lon[-1]' })).toMatchObject({ ok: true, event: { lon: 7.7 } }); // the flat value still counts
  });

  it('a missing element is the field absent: null when optional, a dead letter naming the array\'s length when required', () => {
    const out = decode(line({ ...full, tags: [] }));
    expect(out.ok && [out.event.tag, out.event.last_tag]).toEqual([undefined, undefined]);
    expect(reason(line({ ...full, items: [] }))).toBe('sku: is required (nor at "items[0].sku": "items" is an empty array)');
    expect(reason(line({ ...full, items: [{ sku: 'a' }] }), { ...arrays, sku: 'items[1].sku' })).toBe('sku: is required (nor at "items[1].sku": "items" has no element 1 (it has 1))');
    expect(reason(line({ ...full, items: [{ sku: 'a' }] }), { ...arrays, sku: 'items[-2].sku' })).toBe('sku: is required (nor at "items[-2].sku": "items" has no element -2 (it has 1))');
    expect(reason(line({ ...full, items: [null] }))).toBe('sku: is required (nor at "items[0].sku": "items[0]" is null)');
    expect(reason(line({ ...full, items: [{}] }))).toBe('sku: is required (nor at "items[0].sku": "items[0]" has no "sku")');
    expect(reason(line({ ...full, geo: { coords: [] } }))).toBe('lon: is required (nor at "geo.coords[0]": "geo.coords" is an empty array)');
  });

  it('what is on the way but no array, or no object, is a dead letter saying what was found, optional fields too', () => {
    expect(reason(line({ ...full, items: { sku: 'a' } }))).toBe('sku: expected an array at "items", got object {"sku":"a"}');
    expect(reason(line({ ...full, tags: 'x' }))).toBe('tag: expected an array at "tags", got string "x"');
    expect(reason(line({ ...full, items: ['a'] }))).toBe('sku: expected an object at "items[0]", got string "a"');
    expect(reason(line({ ...full, items: [{ sku: 5 }] }))).toBe('sku: expected a string, got number 5 (at "items[0].sku")');
    // A flat line (no object, no array) is read by the fast reader, which hands on the path's first key.
    expect(reason('{"order_id":"o1","ts":"2026-11-23T10:00:05Z","sku":"a","lon":1,"tags":"x"}')).toBe('tag: expected an array at "tags", got string "x"');
    // A digit written as a key where an array is: the index form is named.
    expect(reason(line(full), { ...arrays, lon: 'geo.coords.0' })).toBe('lon: expected an object at "geo.coords", got an array (an index is written in brackets: "geo.coords[0]")');
  });

  it('the lookup alone, and a path as it is shown', () => {
    const e = { a: [[1, 2], { b: ['x'] }], n: [null] } as Record<string, unknown>;
    expect(valueAtPath(e, ['a', 0, -1], 'f')).toBe(2);
    expect(valueAtPath(e, ['a', 1, 'b', 0], 'f')).toBe('x');
    expect(valueAtPath(e, ['a', 5, 'b'], 'f')).toBeUndefined();
    expect(valueAtPath(e, ['n', 0, 'b'], 'f')).toBeUndefined();
    expect(valueAtPath(e, ['a', 1, 'length'], 'f')).toBeUndefined(); // own keys only
    expect(() => valueAtPath(e, ['a', 'length'], 'f')).toThrow('f: expected an object at "a", got an array');
    expect(pathText(['items', 0, 'sku'])).toBe('"items[0].sku"');
    expect(pathText(['coords', -1])).toBe('"coords[-1]"');
    expect(pathText(['meta', 'a.b', 0])).toBe('["meta","a.b",0]');
    expect(pathText(['meta', 'a[1]'])).toBe('["meta","a[1]"]');
  });

  it('produce keys by an element as the workers read it', () => {
    const schema = parseDefinitions(orders(arrays), 'd.json').schema('orders');
    expect(recordKey(schema, { items: [{ sku: 'a' }] })).toBe('a');
  });
});

describe('concord validate checks array steps, each problem at its place', () => {
  const problems = (paths: Record<string, unknown>): readonly string[] => definitionProblems(orders({ ...arrays, ...paths }));
  const at = 'schemas.orders.paths.sku: ';
  it('names each mistake', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ sku: 'items[x].sku' })).toEqual([`${at}"items[x].sku" has "[x]" where an array index belongs (the 2nd step): write a whole number: [0] the first element, [1] the second, [-1] the last (a key holding "[" is written in the list form, e.g. ["meta", "a[x]"])`]);
    expect(problems({ sku: 'items[' })).toEqual([`${at}"items[" has a "[" without its "]" (the 2nd step); an index is a whole number: [0] the first element, [1] the second, [-1] the last`]);
    expect(problems({ sku: 'items]' })).toEqual([`${at}"items]" has a "]" without its "[" (the 2nd step)`]);
    expect(problems({ sku: 'items[0]sku' })).toEqual([`${at}"items[0]sku" has "sku" after "items[0]"; a key inside an element follows a dot, e.g. "items[0].sku"`]);
    expect(problems({ sku: 'items[-0].sku' })).toEqual([`${at}"items[-0].sku" has "[-0]" where an array index belongs (the 2nd step): -0 is no index; a whole number: [0] the first element, [1] the second, [-1] the last`]);
    expect(problems({ sku: 'items[*].sku' })).toEqual([`${at}"items[*].sku" has "[*]" where an array index belongs (the 2nd step): a path leads to one value, not every element; write a whole number: [0] the first element, [1] the second, [-1] the last`]);
    expect(problems({ sku: 'items[last].sku' })).toEqual([`${at}"items[last].sku" has "[last]" where an array index belongs (the 2nd step): write [-1] for the last element`]);
    expect(problems({ sku: 'items[1.5].sku' })).toEqual([`${at}"items[1.5].sku" has "[1.5]" where an array index belongs (the 2nd step): write a whole number: [0] the first element, [1] the second, [-1] the last (a key holding "[" is written in the list form, e.g. ["meta", "a[x]"])`]);
    expect(problems({ sku: '[0].sku' })).toEqual([`${at}"[0].sku" starts at an array index; an event is an object: start at its key, e.g. "items[0]"`]);
    expect(problems({ sku: [0, 'sku'] })).toEqual([`${at}[0,"sku"] starts at an array index; an event is an object: start at its key, e.g. ["items", 0]`]);
    expect(problems({ sku: ['items', 0.5, 'sku'] })).toEqual([`${at}["items",0.5,"sku"] has 0.5 as its 2nd step, no array index: write a whole number: [0] the first element, [1] the second, [-1] the last`]);
    expect(problems({ sku: ['items', true] })).toEqual([`${at}["items",true] has true as its 2nd step: a key is a string, an array index a number`]);
    expect(problems({ sku: 'items.[0]' })).toEqual([`${at}"items.[0]" has an empty key (the 2nd); write the keys from the event's top level inward, e.g. "user.id"`]);
  });

  it('two paths no event can fill both: an object and an array at one place, a value and an array', () => {
    expect(problems({ sku: 'items.sku' })).toEqual(['schemas.orders.paths.price: "items[0].price" and the path of "sku", "items.sku", need an object and an array at the same place']);
    // The first and the last element part at two indexes: they may be one element, and both read it.
    expect(problems({ tag: 'tags[0].name' })).toEqual([]);
    expect(problems({ tag: 'tags[0]', last_tag: 'tags[0][1]' })).toEqual(['schemas.orders.paths.last_tag: "tags[0][1]" and the path of "tag", "tags[0]", need a value and an array at the same place']);
    expect(problems({ tag: 'tags[0]', last_tag: ['tags', 0] })).toEqual(['schemas.orders.paths.last_tag: "tags[0]" is already the path of "tag"; one value cannot fill two fields']);
  });

  it('a pipeline naming an element\'s path names the field to write', () => {
    const file = { ...orders(arrays), pipelines: { p: { input: 'orders', key: 'items[0].sku', window: { tumbling: '1m' }, aggregates: { n: 'count' } } } };
    expect(definitionProblems(file)).toEqual(['pipelines.p.key: "items[0].sku" is not a field of schema "orders" (it is where events carry field "sku", by the schema\'s "paths": name the field, "sku")']);
  });
});

describe('the text form and the list form name the same steps', () => {
  const textKey = fc.stringMatching(/^[a-z_ é0-9-]{1,6}$/);
  const step: fc.Arbitrary<PathStep> = fc.oneof(textKey, fc.integer({ min: -5, max: 5 }));
  const path = fc.tuple(textKey, fc.array(step, { minLength: 1, maxLength: 5 })).map(([first, rest]) => [first, ...rest] as unknown as FieldPath);

  it('a path written as text parses back to its steps, and reads the value placed there', () => {
    fc.assert(fc.property(path, fc.integer({ min: 0, max: 3 }), (steps, pad) => {
      expect(parsePathText(dottedPath(steps))).toEqual({ steps: [...steps].map((s) => (Object.is(s, -0) ? 0 : s)) });
      // An event holding `leaf` at exactly those steps (arrays padded around the element).
      const leaf = { v: 1 };
      let value: unknown = leaf;
      for (let i = steps.length - 1; i >= 0; i--) {
        const s = steps[i]!;
        if (typeof s === 'string') value = { [s]: value };
        else {
          const size = (s < 0 ? -s : s + 1) + pad;
          const array: unknown[] = Array.from({ length: size }, (_, j) => j);
          array[s < 0 ? size + s : s] = value;
          value = array;
        }
      }
      expect(valueAtPath(value as Record<string, unknown>, steps, 'f')).toBe(leaf);
    }), { numRuns: 300 });
  });
});
