import { describe, expect, it } from 'vitest';
import { duplicateKeys } from '../../pipeline/json-duplicate-keys.ts';

describe('keys written twice in a JSON object', () => {
  it('names each repeated key with its object and every place, in file order', () => {
    const text = '{\n "pipelines": {\n  "p": {"n": 1},\n  "q": {"window": 1, "window": 2},\n  "p": {"n": 2}\n }\n}';
    expect(duplicateKeys(text)).toEqual([
      { path: 'pipelines', key: 'p', at: ['3:3', '5:3'] },
      { path: 'pipelines.q', key: 'window', at: ['4:9', '4:22'] },
    ]);
  });

  it('reads keys, not values: braces, commas and escaped quotes inside strings, arrays of objects', () => {
    const text = '{"a": "{\\"a\\": 1, \\"a\\": 2}", "b": [{"x": 1}, {"x": 2}, {"y": [1, {"z": 0, "z": 1}]}], "c\\"d": 0, "c\\"d": 1}';
    const at = (needle: string, nth: number) => `1:${text.split(needle, nth + 1).slice(0, nth + 1).join(needle).length + 1}`;
    expect(duplicateKeys(text)).toEqual([
      { path: 'b[2].y[1]', key: 'z', at: [at('"z"', 0), at('"z"', 1)] },
      { path: '(file)', key: 'c"d', at: [at('"c\\"d"', 0), at('"c\\"d"', 1)] },
    ]);
  });

  it('finds nothing where every key is once per object (the same key in sibling objects included)', () => {
    expect(duplicateKeys('{"s": {"f": {"id": "string"}}, "p": {"f": {"id": 1}}}')).toEqual([]);
  });
});
