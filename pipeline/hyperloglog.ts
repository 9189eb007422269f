import { DefinitionError } from './errors.ts';
import { hash64Into } from './hash.ts';

/**
 * HyperLogLog with 2^p one-byte registers over the pinned 64-bit hash (pipeline/hash.ts).
 * Register index = top p bits; rank = leading zeros of the remaining 64-p bits, plus one.
 *
 * The estimate is computed from the *rank histogram* (how many registers hold each rank), summed in
 * rank order, so it does not depend on register order: the stream runtime (registers in memory) and
 * the replay runtime (histogram computed by DuckDB SQL) produce bit-identical numbers.
 */
export const DEFAULT_HLL_PRECISION = 14;

export function checkPrecision(p: number): void {
  if (!Number.isInteger(p) || p < 4 || p > 16) {
    throw new DefinitionError(`HyperLogLog precision must be an integer in 4..16, got ${p}`);
  }
}

const hashOut = new Uint32Array(2);

export class HyperLogLog {
  readonly precision: number;
  /** Read only outside this class: every write goes through `set`, which keeps `counts` in step. */
  readonly registers: Uint8Array;
  /**
   * counts[r] = registers holding rank r, kept on each register change: a fired pane re-emitted for every
   * late-enough event reads ~50 bins for its estimate instead of scanning 2^p registers (docs/operations.md).
   */
  private readonly counts: Int32Array;
  /** The last `serialize()`, until a register changes (most re-emissions change none or few). */
  private serialized: string | undefined;

  constructor(precision = DEFAULT_HLL_PRECISION, registers?: Uint8Array) {
    checkPrecision(precision);
    this.precision = precision;
    this.registers = registers ?? new Uint8Array(1 << precision);
    this.counts = new Int32Array(66 - precision);
    if (registers === undefined) this.counts[0] = 1 << precision; // a new sketch: no scan (one per pane and merge)
    else {
      for (let i = 0; i < registers.length; i++) {
        const rank = registers[i]!;
        // No hash gives a rank past 65 - p (a damaged checkpoint or partial).
        if (rank > 65 - precision) throw new DefinitionError(`HyperLogLog register rank above ${65 - precision}`);
        this.counts[rank]!++;
      }
    }
  }

  add(value: string): void {
    hash64Into(value, hashOut);
    this.addHash(hashOut[0]!, hashOut[1]!);
  }

  addHash(hi: number, lo: number): void {
    const p = this.precision;
    const index = hi >>> (32 - p);
    const rest = (hi << p) >>> 0;
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : 32 - p + Math.clz32(lo) + 1;
    if (rank > this.registers[index]!) this.set(index, rank);
  }

  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision) {
      throw new DefinitionError(`cannot merge HyperLogLog sketches of precision ${this.precision} and ${other.precision}`);
    }
    const a = this.registers, b = other.registers;
    for (let i = 0; i < a.length; i++) if (b[i]! > a[i]!) this.set(i, b[i]!);
  }

  private set(index: number, rank: number): void {
    this.counts[this.registers[index]!]!--;
    this.counts[rank]!++;
    this.registers[index] = rank;
    this.serialized = undefined;
  }

  /** histogram[r] = number of registers holding rank r (r = 0 counts empty registers). */
  histogram(): number[] {
    return Array.from(this.counts);
  }

  estimate(): number {
    return estimateFromHistogram(this.counts, this.precision);
  }

  /**
   * `hll:<p>:<base64 registers>`, or, while fewer than a quarter of the registers are set,
   * the sparse `hlls:<p>:<base64 of (uint16 index, uint8 rank) pairs>` (a 5-minute window of a few
   * hundred visitors checkpoints in ~1 KiB instead of 22 KiB).
   */
  serialize(): string {
    return (this.serialized ??= this.encode());
  }

  /** `serialize()` as JSON text: the encoding's alphabet (tag, digits, ':', base64) needs no escapes. */
  serializedJson(): string {
    return `"${this.serialize()}"`;
  }

  private encode(): string {
    const m = this.registers.length;
    const set = m - this.counts[0]!;
    if (set * 4 >= m) return `hll:${this.precision}:${Buffer.from(this.registers).toString('base64')}`;
    const pairs = Buffer.alloc(set * 3);
    for (let i = 0, k = 0; i < m; i++) {
      const rank = this.registers[i]!;
      if (rank === 0) continue;
      // (uint16 LE index, uint8 rank) by hand: Buffer's checked writers cost more than the loop.
      pairs[k] = i & 0xff;
      pairs[k + 1] = i >>> 8;
      pairs[k + 2] = rank;
      k += 3;
    }
    return `hlls:${this.precision}:${pairs.toString('base64')}`;
  }

  static deserialize(text: string): HyperLogLog {
    const [tag, p, data] = text.split(':');
    const precision = Number(p);
    if ((tag !== 'hll' && tag !== 'hlls') || data === undefined) throw new DefinitionError('not a serialised HyperLogLog');
    checkPrecision(precision);
    const bytes = Buffer.from(data, 'base64');
    if (tag === 'hll') {
      if (bytes.length !== 1 << precision) throw new DefinitionError('HyperLogLog register count does not match precision');
      return new HyperLogLog(precision, new Uint8Array(bytes));
    }
    const h = new HyperLogLog(precision);
    for (let k = 0; k + 2 < bytes.length; k += 3) {
      const index = bytes.readUInt16LE(k), rank = bytes.readUInt8(k + 2);
      if (index >= h.registers.length || rank > 65 - precision) throw new DefinitionError('not a serialised HyperLogLog: a register out of range');
      h.set(index, rank);
    }
    return h;
  }
}

/** histogram[r] = registers holding rank r, counted from scratch (what `HyperLogLog` keeps as registers change). */
export function registerHistogram(registers: Uint8Array, p: number): number[] {
  const h = new Array<number>(66 - p).fill(0);
  for (const r of registers) h[r]!++;
  return h;
}

/**
 * The estimate, rounded to the nearest integer: raw HLL, with linear counting (m ln(m/V)) when the raw
 * estimate is <= 2.5m and some register is empty. No large-range correction is needed with a 64-bit hash.
 * `histogram` may be sparse (missing ranks count as 0); histogram[0] may be omitted, then it is derived.
 */
export function estimateFromHistogram(histogram: ArrayLike<number | undefined>, p: number): number {
  const m = 1 << p;
  let nonEmpty = 0;
  let sum = 0;
  for (let r = 1; r < histogram.length; r++) {
    const c = histogram[r] ?? 0;
    nonEmpty += c;
    sum += c * 2 ** -r; // exact per term; summed in rank order so every runtime rounds alike
  }
  const empty = m - nonEmpty;
  sum += empty;
  const alpha = 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  if (raw <= 2.5 * m && empty > 0) return Math.round(m * Math.log(m / empty));
  return Math.round(raw);
}
