/**
 * The 64-bit hash behind every HyperLogLog in Concord, pinned so that any runtime can reproduce it:
 * MurmurHash3_x86_128 (seed 0) over the UTF-8 bytes of the input; the 64-bit value is the first
 * 8 bytes of the 128-bit digest read little-endian, i.e. hi = h2, lo = h1.
 * x86_128 needs only 32-bit multiplies (Math.imul), so it is fast in JavaScript without BigInt.
 */
const C1 = 0x239b961b, C2 = 0xab0e9789, C3 = 0x38b34ae5, C4 = 0xa1e38b93;

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** UTF-8 bytes of `text` in a reused buffer; returns the byte length. */
function utf8(text: string): number {
  const n = text.length;
  if (scratch.length < n * 3) scratch = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encoder.encodeInto(text, scratch).written;
    scratch[i] = c;
  }
  return n;
}

/** Writes [hi, lo] (unsigned 32-bit halves of the 64-bit hash) into `out`. */
export function hash64Into(text: string, out: Uint32Array): void {
  const len = utf8(text);
  const b = scratch;
  let h1 = 0, h2 = 0, h3 = 0, h4 = 0;
  const blocks = len & ~15;
  for (let i = 0; i < blocks; i += 16) {
    let k1 = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    let k2 = b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24);
    let k3 = b[i + 8]! | (b[i + 9]! << 8) | (b[i + 10]! << 16) | (b[i + 11]! << 24);
    let k4 = b[i + 12]! | (b[i + 13]! << 8) | (b[i + 14]! << 16) | (b[i + 15]! << 24);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2); h1 ^= k1;
    h1 = rotl(h1, 19); h1 = (h1 + h2) | 0; h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3); h2 ^= k2;
    h2 = rotl(h2, 17); h2 = (h2 + h3) | 0; h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4); h3 ^= k3;
    h3 = rotl(h3, 15); h3 = (h3 + h4) | 0; h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1); h4 ^= k4;
    h4 = rotl(h4, 13); h4 = (h4 + h1) | 0; h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }
  let k1 = 0, k2 = 0, k3 = 0, k4 = 0;
  const t = blocks;
  switch (len & 15) {
    case 15: k4 ^= b[t + 14]! << 16; // falls through
    case 14: k4 ^= b[t + 13]! << 8; // falls through
    case 13: k4 ^= b[t + 12]!;
      k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1); h4 ^= k4; // falls through
    case 12: k3 ^= b[t + 11]! << 24; // falls through
    case 11: k3 ^= b[t + 10]! << 16; // falls through
    case 10: k3 ^= b[t + 9]! << 8; // falls through
    case 9: k3 ^= b[t + 8]!;
      k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4); h3 ^= k3; // falls through
    case 8: k2 ^= b[t + 7]! << 24; // falls through
    case 7: k2 ^= b[t + 6]! << 16; // falls through
    case 6: k2 ^= b[t + 5]! << 8; // falls through
    case 5: k2 ^= b[t + 4]!;
      k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3); h2 ^= k2; // falls through
    case 4: k1 ^= b[t + 3]! << 24; // falls through
    case 3: k1 ^= b[t + 2]! << 16; // falls through
    case 2: k1 ^= b[t + 1]! << 8; // falls through
    case 1: k1 ^= b[t]!;
      k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2); h1 ^= k1;
  }
  h1 ^= len; h2 ^= len; h3 ^= len; h4 ^= len;
  h1 = (h1 + h2) | 0; h1 = (h1 + h3) | 0; h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  h1 = fmix32(h1); h2 = fmix32(h2); h3 = fmix32(h3); h4 = fmix32(h4);
  h1 = (h1 + h2) | 0; h1 = (h1 + h3) | 0; h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0;
  out[0] = h2 >>> 0;
  out[1] = h1 >>> 0;
}

/** Convenience form (allocates): the hash as an unsigned 64-bit bigint. */
export function hash64(text: string): bigint {
  const out = new Uint32Array(2);
  hash64Into(text, out);
  return (BigInt(out[0]!) << 32n) | BigInt(out[1]!);
}
