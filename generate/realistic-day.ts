import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SeededRandom, WeightedSampler } from './random.ts';

/**
 * One realistic UTC day of clicks and card transactions, in ARRIVAL order (what a stream processor
 * sees): event times follow a daily traffic curve; a fraction arrives out of order within the watermark
 * bound B, a smaller fraction arrives late beyond B + L ("offline mobile clients" syncing later);
 * fraud rings use cards from several countries within minutes.
 */
export interface DayOptions {
  seed?: number;
  /** UTC date, YYYY-MM-DD. */
  date?: string;
  clicks?: number;
  transactions?: number;
  fraudRings?: number;
  outOfOrderFraction?: number;
  lateFraction?: number;
  maxOutOfOrderness?: number;
  allowedLateness?: number;
  /** Fraction of lines replaced by malformed or schema-violating ones (dead-letter testing). */
  invalidFraction?: number;
}

export interface DayStats {
  clicks: number;
  transactions: number;
  outOfOrder: number;
  late: number;
  invalid: number;
  fraudUsers: number;
}

export interface GeneratedDay {
  clicks: string[];
  transactions: string[];
  stats: DayStats;
}

const MINUTES = 1440;
const countries = ['US', 'GB', 'FR', 'DE', 'ES', 'IT', 'NL', 'PL', 'SE', 'BR', 'IN', 'JP', 'CA', 'AU', 'MX'];
const currencies: Record<string, string> = { US: 'USD', GB: 'GBP', BR: 'BRL', IN: 'INR', JP: 'JPY', CA: 'CAD', AU: 'AUD', MX: 'MXN', PL: 'PLN', SE: 'SEK' };
const referrers = ['https://www.google.com/', 'https://news.ycombinator.com/', 'https://t.co/x', 'https://www.bing.com/', 'https://duckduckgo.com/'];
const agents = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/142.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 19_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
  'Mozilla/5.0 (Linux; Android 16) AppleWebKit/537.36 Chrome/142.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 15_1) AppleWebKit/605.1.15 Version/19.1 Safari/605.1.15',
];
const merchants = ['grocer', 'fuel', 'airline', 'hotel', 'electronics', 'pharmacy', 'restaurant', 'marketplace'];

function urlsFor(): string[] {
  const urls = ['/', '/cart', '/checkout', '/search', '/login', '/account'];
  for (let i = 1; i <= 240; i++) urls.push(`/products/${i}`);
  for (let i = 1; i <= 54; i++) urls.push(`/blog/post-${i}`);
  return urls;
}

/** Traffic per minute of the day: quiet at night, peaks around 13:00 and 20:00 UTC. */
function dailyCurve(): WeightedSampler {
  const w: number[] = [];
  for (let m = 0; m < MINUTES; m++) {
    const h = m / 60;
    w.push(0.15 + Math.exp(-((h - 13) ** 2) / 18) + 0.8 * Math.exp(-((h - 20) ** 2) / 8));
  }
  return new WeightedSampler(w);
}

/** Sorted event times for n events of the day. */
function eventTimes(n: number, dayStart: number, random: SeededRandom, curve: WeightedSampler): Float64Array {
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = dayStart + curve.sample(random) * 60_000 + Math.floor(random.next() * 60_000);
  return times.sort();
}

interface Arrival { key: number; line: string }

/**
 * Arrival order: an event normally arrives at its own time; out-of-order ones by up to B - 1 later
 * (never late: the max ts seen when they arrive is below ts + B); late ones 6 to 90 minutes later.
 */
class ArrivalPlanner {
  readonly onTime: string[] = [];
  readonly displaced: Arrival[] = [];
  outOfOrder = 0;
  late = 0;
  constructor(private readonly random: SeededRandom, private readonly o: Required<DayOptions>) {}

  place(ts: number, line: string, lateFraction = this.o.lateFraction): void {
    const r = this.random.next();
    if (r < lateFraction) {
      const minDelay = this.o.maxOutOfOrderness + this.o.allowedLateness + 5 * 60_000;
      this.displaced.push({ key: ts + minDelay + Math.floor(this.random.next() * 84 * 60_000), line });
      this.late++;
    } else if (r < lateFraction + this.o.outOfOrderFraction) {
      this.displaced.push({ key: ts + 1 + Math.floor(this.random.next() * (this.o.maxOutOfOrderness - 1)), line });
      this.outOfOrder++;
    } else {
      this.onTime.push(line);
    }
  }

  /** Merge on-time lines (already in ts order, with their keys) and displaced ones by arrival key. */
  merge(onTimeKeys: number[]): string[] {
    this.displaced.sort((a, b) => a.key - b.key);
    const out: string[] = new Array(this.onTime.length + this.displaced.length);
    let i = 0, j = 0, k = 0;
    while (i < this.onTime.length || j < this.displaced.length) {
      // Ties go to the displaced event, so "arrives d later" means after everything up to ts + d.
      if (j < this.displaced.length && (i >= this.onTime.length || this.displaced[j]!.key <= onTimeKeys[i]!)) out[k++] = this.displaced[j++]!.line;
      else out[k++] = this.onTime[i++]!;
    }
    return out;
  }
}

function tsJson(ts: number, random: SeededRandom): string {
  // Most producers send epoch ms; some send ISO-8601 with Z; both must work.
  return random.chance(0.1) ? `"${new Date(ts).toISOString()}"` : String(ts);
}

function invalidLine(n: number, random: SeededRandom, kind: 'clicks' | 'transactions'): string {
  const id = kind === 'clicks' ? 'event_id' : 'txn_id';
  switch (n % 5) {
    case 0: return `{"${id}":"bad-${n}","ts":17`; // truncated JSON
    case 1: return `{"${id}":"bad-${n}"}`; // missing fields
    case 2: return `{"${id}":${n},"ts":0,"url":"/","visitor_id":"v","user_id":"u","country":"FR","amount":1}`; // wrong type
    case 3: return `{"${id}":"bad-${n}","ts":"next tuesday","url":"/","visitor_id":"v","user_id":"u","country":"FR","amount":1}`;
    default: return `{"${id}":"bad-${n}","ts":"2026-11-23T10:00:00","url":"/","visitor_id":"v","user_id":"u","country":"FR","amount":${random.int(1, 9)}}`; // no zone
  }
}

export function generateDay(options: DayOptions = {}): GeneratedDay {
  const o: Required<DayOptions> = {
    seed: 42, date: '2026-11-23', clicks: 1_000_000, transactions: 100_000, fraudRings: 5,
    outOfOrderFraction: 0.02, lateFraction: 0.005, maxOutOfOrderness: 30_000, allowedLateness: 300_000, invalidFraction: 0,
    ...options,
  };
  const dayStart = Date.parse(`${o.date}T00:00:00.000Z`);
  const random = new SeededRandom(o.seed);
  const curve = dailyCurve();
  let invalid = 0;

  // Clicks.
  const urls = urlsFor();
  const urlSampler = WeightedSampler.zipf(urls.length, 1.1);
  const visitorPool = Math.max(1, Math.round(o.clicks * 0.15));
  const clickPlan = new ArrivalPlanner(random, o);
  const clickKeys: number[] = [];
  const clickTimes = eventTimes(o.clicks, dayStart, random, curve);
  for (let i = 0; i < o.clicks; i++) {
    const ts = clickTimes[i]!;
    let line: string;
    if (o.invalidFraction > 0 && random.chance(o.invalidFraction)) {
      line = invalidLine(invalid++, random, 'clicks');
    } else {
      // Visitors are skewed: a few come back a lot.
      const visitor = Math.floor(visitorPool * random.next() ** 2);
      const country = countries[visitor % countries.length]!;
      line = `{"event_id":"c-${i}","ts":${tsJson(ts, random)},"url":"${urls[urlSampler.sample(random)]}","visitor_id":"v-${visitor}","country":"${country}"` +
        (random.chance(0.4) ? `,"referrer":"${random.pick(referrers)}"` : '') + `,"user_agent":"${agents[visitor % agents.length]}"}`;
    }
    const before = clickPlan.onTime.length;
    clickPlan.place(ts, line);
    if (clickPlan.onTime.length > before) clickKeys.push(ts);
  }

  // Transactions: normal users mostly at home, sometimes abroad; fraud rings hop countries within minutes.
  type Txn = { ts: number; user: string; country: string; ring?: boolean };
  const txns: Txn[] = [];
  const users = Math.max(1, Math.round(o.transactions / 5));
  const txnTimes = eventTimes(o.transactions, dayStart, random, curve);
  let fraudUsers = 0;
  const ringTxns: Txn[] = [];
  for (let r = 0; r < o.fraudRings; r++) {
    const start = dayStart + random.int(60, MINUTES - 60) * 60_000;
    const members = random.int(2, 4);
    for (let m = 0; m < members; m++) {
      const user = `ring${r}-u${m}`;
      fraudUsers++;
      const hops = random.int(4, 6);
      const offset = random.int(0, countries.length - 1);
      for (let h = 0; h < hops; h++) {
        ringTxns.push({ ts: start + m * 45_000 + h * random.int(20_000, 90_000), user, country: countries[(offset + h) % countries.length]!, ring: true });
      }
    }
  }
  const normal = Math.max(0, o.transactions - ringTxns.length);
  for (let i = 0; i < normal; i++) {
    const u = random.int(0, users - 1);
    const home = countries[u % countries.length]!;
    txns.push({ ts: txnTimes[i]!, user: `u-${u}`, country: random.chance(0.03) ? random.pick(countries) : home });
  }
  txns.push(...ringTxns);
  txns.sort((a, b) => a.ts - b.ts);
  const txnPlan = new ArrivalPlanner(random, o);
  const txnKeys: number[] = [];
  txns.forEach((t, i) => {
    let line: string;
    if (o.invalidFraction > 0 && random.chance(o.invalidFraction)) {
      line = invalidLine(invalid++, random, 'transactions');
    } else {
      const amount = (random.int(100, 50_000) / 100).toFixed(2);
      line = `{"txn_id":"t-${i}","ts":${tsJson(t.ts, random)},"user_id":"${t.user}","country":"${t.country}","amount":${amount}` +
        `,"currency":"${currencies[t.country] ?? 'EUR'}","merchant":"${random.pick(merchants)}"}`;
    }
    const before = txnPlan.onTime.length;
    // Stolen cards are often used from phones that sync later: ring transactions are late more often.
    txnPlan.place(t.ts, line, t.ring ? Math.min(1, o.lateFraction * 30) : o.lateFraction);
    if (txnPlan.onTime.length > before) txnKeys.push(t.ts);
  });

  return {
    clicks: clickPlan.merge(clickKeys),
    transactions: txnPlan.merge(txnKeys),
    stats: {
      clicks: o.clicks,
      transactions: txns.length,
      outOfOrder: clickPlan.outOfOrder + txnPlan.outOfOrder,
      late: clickPlan.late + txnPlan.late,
      invalid,
      fraudUsers,
    },
  };
}

/** Writes lines as JSONL in large chunks. */
export async function writeJsonl(path: string, lines: readonly string[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const chunk = 50_000;
  for (let i = 0; i < lines.length; i += chunk) {
    const text = lines.slice(i, i + chunk).join('\n') + '\n';
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
