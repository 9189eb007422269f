/**
 * Kafka's murmur2 (Java's `Utils.murmur2`, what its default partitioner hashes record keys with), in
 * 32-bit integer arithmetic. The client's own port computes in BigInt: 0.42 s of CPU for the ~210k keyed
 * records of a 1M-click run (profile in docs/benchmarks.md); this one gives the same values
 * (test/unit/murmur2.test.ts) for a small fraction of that.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3: h ^= data[whole + 2]! << 16; // falls through
    case 2: h ^= data[whole + 1]! << 8; // falls through
    case 1: h = Math.imul(h ^ data[whole]!, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Room for any key the producer sends unhashed (1,024 UTF-16 units: at most 3 bytes each in UTF-8). */
const scratch = Buffer.allocUnsafe(4_096);

/** The partition Java's default partitioner gives a string key, before the modulo: toPositive(murmur2(utf8(key))). */
export function keyHash(key: string): number {
  const length = key.length * 3 <= scratch.length ? scratch.write(key, 0, 'utf8') : -1;
  return (length >= 0 ? murmur2(scratch, length) : murmur2(Buffer.from(key))) & 0x7fffffff;
}
