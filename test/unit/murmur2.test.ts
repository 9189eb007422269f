import fc from 'fast-check';
import { murmur2 as libraryMurmur2 } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { keyHash, murmur2 } from '../../stream/kafka/murmur2.ts';

describe('murmur2 in 32-bit arithmetic (stream/kafka/murmur2.ts)', () => {
  it('equals the client\'s (Java\'s) murmur2 for any bytes, every tail length', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
      expect(murmur2(bytes)).toBe(libraryMurmur2(Buffer.from(bytes)));
    }), { numRuns: 2_000 });
  });

  it('hashes a string key by its UTF-8 bytes, made positive, long keys included', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ minLength: 1_500, maxLength: 2_000 })), (key) => {
      expect(keyHash(key)).toBe(libraryMurmur2(Buffer.from(key)) & 0x7fffffff);
    }), { numRuns: 1_000 });
  });

  it('known values of Kafka\'s partitioner (Java Utils.murmur2)', () => {
    // From Kafka's UtilsTest.testMurmur2: "21" -> -973932308, "foobar" -> -790332482, "a-little-bit-long-string" -> -985981536.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
  });
});
