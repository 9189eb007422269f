import mm from 'murmurhash3js';
import { describe, expect, it } from 'vitest';
import { hash64 } from '../../pipeline/hash.ts';
import { HyperLogLog, estimateFromHistogram } from '../../pipeline/hyperloglog.ts';

describe('pinned 64-bit hash: MurmurHash3_x86_128, first 8 bytes little-endian', () => {
  it.each(['', 'a', 'hello', 'visitor-12345', 'exactly16bytes!!', 'abcdefghijklmnopqrstuvwxyz0123456789'])('%j matches the reference implementation', (s) => {
    const ref = mm.x86.hash128(s) as string; // h1 h2 h3 h4 as hex words
    expect(hash64(s).toString(16).padStart(16, '0')).toBe(ref.slice(8, 16) + ref.slice(0, 8));
  });

  it('hashes UTF-8 bytes, not UTF-16 code units', () => {
    // "é" is 2 UTF-8 bytes (c3 a9): same digest as the byte string "\u00c3\u00a9" fed as Latin-1 code units.
    const ref = mm.x86.hash128('\u00c3\u00a9') as string;
    expect(hash64('é').toString(16).padStart(16, '0')).toBe(ref.slice(8, 16) + ref.slice(0, 8));
    expect(hash64('日本')).not.toBe(hash64('日'));
  });
});

describe('HyperLogLog', () => {
  const ids = (n: number, prefix = 'v') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

  it('is within 2% mean error over many cardinalities at 2^14 registers', () => {
    const errors: number[] = [];
    for (const n of [100, 1_000, 5_000, 20_000, 50_000, 100_000, 200_000]) {
      for (let trial = 0; trial < 3; trial++) {
        const h = new HyperLogLog(14);
        for (const id of ids(n, `t${trial}`)) h.add(id);
        errors.push(Math.abs(h.estimate() - n) / n);
      }
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    expect(mean).toBeLessThanOrEqual(0.02);
    expect(Math.max(...errors)).toBeLessThan(0.05);
  });

  it('counts small sets exactly enough to be equal (linear counting)', () => {
    const h = new HyperLogLog();
    for (const id of ['a', 'b', 'c', 'a', 'b']) h.add(id);
    expect(h.estimate()).toBe(3);
    expect(new HyperLogLog().estimate()).toBe(0);
  });

  it('merge equals the sketch of the union, registers and estimate', () => {
    const a = new HyperLogLog(12), b = new HyperLogLog(12), union = new HyperLogLog(12);
    for (const id of ids(30_000, 'x')) { a.add(id); union.add(id); }
    for (const id of ids(30_000, 'y')) { b.add(id); union.add(id); }
    for (const id of ids(10_000, 'x')) b.add(id);
    a.merge(b);
    expect(a.registers).toEqual(union.registers);
    expect(a.estimate()).toBe(union.estimate());
    expect(() => a.merge(new HyperLogLog(14))).toThrow(/precision 12 and 14/);
  });

  it.each([0, 3, 200, 5_000])('serialises %i ids and restores bit for bit (sparse while small)', (n) => {
    const h = new HyperLogLog(10);
    for (const id of ids(n)) h.add(id);
    const text = h.serialize();
    expect(text.startsWith(n < 250 ? 'hlls:10:' : 'hll:10:')).toBe(true);
    const back = HyperLogLog.deserialize(text);
    expect(back.registers).toEqual(h.registers);
    expect(back.estimate()).toBe(h.estimate());
  });

  it('estimates from a histogram regardless of register order', () => {
    const h = new HyperLogLog(14);
    for (const id of ids(80_000)) h.add(id);
    const hist = h.histogram();
    const sparse: number[] = [];
    hist.forEach((c, r) => { if (r > 0 && c > 0) sparse[r] = c; });
    expect(estimateFromHistogram(sparse, 14)).toBe(h.estimate());
    expect(() => new HyperLogLog(3)).toThrow(/4\.\.16/);
  });
});
