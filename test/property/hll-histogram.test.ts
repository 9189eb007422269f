import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HyperLogLog, estimateFromHistogram, registerHistogram } from '../../pipeline/hyperloglog.ts';

/**
 * A sketch keeps its rank histogram (and its serialised text) as registers change: whatever the adds,
 * merges and restores, both equal what a count from scratch over the registers gives, so the estimate is
 * the one the merge stage and the replay compute (estimateFromHistogram over the same histogram).
 */
type Op = { add: [number, number] } | { merge: [number, number][] } | { restore: true };

const hashArb = fc.tuple(fc.nat(0xffffffff), fc.oneof(fc.nat(0xffffffff), fc.constant(0), fc.constant(1)));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: hashArb.map((add) => ({ add })) },
  { weight: 1, arbitrary: fc.array(hashArb, { maxLength: 300 }).map((merge) => ({ merge })) },
  { weight: 1, arbitrary: fc.constant({ restore: true as const }) },
);

function expectFromScratch(h: HyperLogLog): void {
  const scratch = registerHistogram(h.registers, h.precision);
  expect(h.histogram()).toEqual(scratch);
  expect(h.estimate()).toBe(estimateFromHistogram(scratch, h.precision));
  expect(h.serialize()).toBe(new HyperLogLog(h.precision, h.registers.slice()).serialize());
}

describe('HyperLogLog rank histogram kept as registers change', () => {
  it('equals the histogram from scratch, estimate and serialised text, over random adds, merges and restores', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 6, 10, 14), fc.array(opArb, { maxLength: 400, size: 'medium' }), (p, ops) => {
        let h = new HyperLogLog(p);
        for (const op of ops) {
          if ('add' in op) h.addHash(...op.add);
          else if ('merge' in op) {
            const other = new HyperLogLog(p);
            for (const [hi, lo] of op.merge) other.addHash(hi, lo);
            h.merge(other);
          } else h = HyperLogLog.deserialize(h.serialize());
          expectFromScratch(h);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a serialised sketch with a rank no hash gives (it would lengthen the histogram)', () => {
    const dense = new Uint8Array(16).fill(1);
    dense[3] = 62;
    expect(() => HyperLogLog.deserialize(`hll:4:${Buffer.from(dense).toString('base64')}`)).toThrow(/rank above 61/);
    expect(() => HyperLogLog.deserialize(`hlls:4:${Buffer.from([3, 0, 62]).toString('base64')}`)).toThrow(/out of range/);
    expect(() => HyperLogLog.deserialize(`hlls:4:${Buffer.from([16, 0, 1]).toString('base64')}`)).toThrow(/out of range/);
  });
});
