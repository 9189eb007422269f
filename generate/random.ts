/**
 * Seeded randomness for the generators: the same seed gives the same data on every machine.
 * Nothing in `generate/` may use Math.random.
 */

/** splitmix32 finaliser: spreads nearby seeds (1, 2, 3...) over unrelated states. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** FNV-1a over a label, so sub-streams can be named (`fork('clicks')`). */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A small, fast, seeded PRNG (mulberry32: 32-bit state, period 2^32, plenty for test data). */
export class SeededRandom {
  private state: number;
  private spareNormal = Number.NaN;

  /** Any finite number is a seed; the integer part and the fraction both count. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const whole = Math.trunc(seed);
    const low = whole >>> 0;
    const high = Math.floor(whole / 4294967296) >>> 0;
    const frac = Math.floor((seed - whole) * 4294967296) >>> 0;
    this.state = mix32(low ^ mix32(high ^ mix32(frac)));
  }

  /** An independent stream for one part of the data: adding a part never shifts another part's numbers. */
  fork(label: string): SeededRandom {
    const child = new SeededRandom(0);
    child.state = mix32(this.state ^ hashLabel(label));
    return child;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Exponentially distributed with the given mean (inter-arrival gaps, think times). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const v = this.spareNormal;
      this.spareNormal = Number.NaN;
      return v;
    }
    const u = 1 - this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.next();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Log-normal with the given median and log-space spread (money amounts, session lengths). */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Geometric on 1, 2, 3... with the given mean (>= 1). */
  geometric(mean: number): number {
    if (mean <= 1) return 1;
    return 1 + Math.floor(Math.log(1 - this.next()) / Math.log(1 - 1 / mean));
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}

/**
 * Samples indexes 0..n-1 with given weights in O(1) per draw (Walker/Vose alias method):
 * one uniform picks a column, the same uniform's remainder decides between it and its alias.
 */
export class WeightedSampler {
  private readonly probability: Float64Array;
  private readonly alias: Int32Array;
  readonly size: number;

  constructor(weights: readonly number[]) {
    const n = weights.length;
    if (n === 0) throw new RangeError('WeightedSampler needs at least one weight');
    let total = 0;
    for (const w of weights) {
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weights must be finite and >= 0, got ${w}`);
      total += w;
    }
    if (total <= 0) throw new RangeError('weights must not all be zero');
    this.size = n;
    this.probability = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = weights.map((w) => (w * n) / total);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.probability[s] = scaled[s]!;
      this.alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      (scaled[l]! < 1 ? small : large).push(l);
    }
    for (const i of large) { this.probability[i] = 1; this.alias[i] = i; }
    for (const i of small) { this.probability[i] = 1; this.alias[i] = i; } // rounding leftovers
  }

  /** Zipf-like popularity: weight of rank i (0-based) is 1 / (i + 1)^exponent. */
  static zipf(n: number, exponent: number): WeightedSampler {
    return new WeightedSampler(Array.from({ length: n }, (_, i) => 1 / (i + 1) ** exponent));
  }

  sample(random: SeededRandom): number {
    const x = random.next() * this.size;
    const column = Math.floor(x);
    return x - column < this.probability[column]! ? column : this.alias[column]!;
  }
}
