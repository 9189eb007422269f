import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import { planArrivals, timeOrder } from './arrival-plan.ts';
import { SeededRandom, WeightedSampler } from './random.ts';

/**
 * One realistic UTC day of clicks and card transactions, as JSON lines in ARRIVAL order (the order a
 * stream processor sees them).
 *
 * - Event times follow a daily traffic curve (quiet at night, peaks mid-day and in the evening).
 * - Clicks come in sessions: a visitor views a few pages, ~half a minute apart; visitors return with
 *   a skewed frequency (~150k distinct visitors per 1M clicks); URLs have Zipf-like popularity.
 * - Card holders transact from their home country; a few travel (two countries that day). Fraud rings
 *   use compromised cards from 4-6 countries within a few minutes, so `fraud_multi_country` flags them
 *   (and, on complete data, nobody else).
 * - Arrival (see `planArrivals`): ~`outOfOrderFraction` of events arrive out of order by less than B
 *   (never late); `lateFraction` arrive long after B + L, late for every built-in pipeline (clicks:
 *   only from mobile apps syncing after being offline); everything else arrives in event-time order.
 *   The stats count exactly the events a runtime will see out of order and late.
 * - `ts` is epoch ms for most producers, ISO-8601 with `Z` for some, and with an offset for a few.
 *
 * Clicks and transactions use independent random streams: the clicks of a seed do not depend on how
 * many transactions are generated, and vice versa (`produce` generates one topic at a time).
 */
export interface DayOptions {
  seed?: number;
  /** UTC date, YYYY-MM-DD. */
  date?: string;
  clicks?: number;
  transactions?: number;
  /** Number of fraud rings; each has 2-4 compromised cards used from 4-6 countries within minutes. */
  fraudRings?: number;
  /** Fraction of events delayed by 1 ms .. B - 1 ms: out of order, but never late. */
  outOfOrderFraction?: number;
  /** Fraction of events delayed far beyond B + L (late for every built-in pipeline). */
  lateFraction?: number;
  /** B: the watermark bound the disorder is defined against (ms). */
  maxOutOfOrderness?: number;
  /** L: the allowed lateness the late delays are defined against (ms). */
  allowedLateness?: number;
  /** Fraction of lines replaced by malformed or schema-violating ones (dead-letter testing). */
  invalidFraction?: number;
}

export interface TopicStats {
  /** Lines generated, malformed ones included. */
  lines: number;
  /** Events delayed by less than B. */
  outOfOrder: number;
  /** Events delayed beyond B + L. */
  late: number;
  /** Malformed or schema-violating lines. */
  invalid: number;
  /** Valid lines whose ts is an ISO-8601 string (the rest are epoch ms). */
  isoTimestamps: number;
}

export interface DayStats {
  /** Click lines (= the requested count; malformed ones included). */
  clicks: number;
  /** Transaction lines (= the requested count; malformed ones included). */
  transactions: number;
  outOfOrder: number;
  late: number;
  invalid: number;
  /** Compromised cards used by fraud rings. */
  fraudUsers: number;
  perTopic: { clicks: TopicStats; transactions: TopicStats };
}

export interface GeneratedDay {
  clicks: string[];
  transactions: string[];
  stats: DayStats;
  /** The user_id of every compromised card, sorted. */
  fraudUserIds: string[];
}

const DAY_MS = 86_400_000;

// --- reference data ------------------------------------------------------------------------------

const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'IN', 'BR', 'JP', 'CA', 'ES', 'IT', 'NL', 'PL', 'SE', 'AU', 'MX', 'IE', 'PT', 'CH'];
const COUNTRY_WEIGHTS = [30, 10, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1];
const CURRENCY: Record<string, string> = {
  US: 'USD', GB: 'GBP', IN: 'INR', BR: 'BRL', JP: 'JPY', CA: 'CAD', PL: 'PLN', SE: 'SEK', AU: 'AUD', MX: 'MXN', CH: 'CHF',
};
/** Rough units of local currency per USD, so amounts look plausible in every currency. */
const PER_USD: Record<string, number> = { USD: 1, EUR: 0.92, GBP: 0.79, INR: 84, BRL: 5.6, JPY: 150, CAD: 1.38, PLN: 4, SEK: 10.7, AUD: 1.53, MXN: 19.5, CHF: 0.88 };
const REFERRERS = [
  'https://www.google.com/', 'https://www.google.com/', 'https://www.google.com/', 'https://www.bing.com/', 'https://duckduckgo.com/',
  'https://news.ycombinator.com/', 'https://t.co/3xAmPl3', 'https://www.facebook.com/', 'https://www.reddit.com/r/deals/',
];
/** Client kinds: how the client sends ts, and whether it can be offline for a while (mobile apps). */
interface Client { agent: string; weight: number; iso: 'no' | 'z' | 'offset'; mobileApp: boolean }
const CLIENTS: Client[] = [
  { agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36', weight: 30, iso: 'no', mobileApp: false },
  { agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 15_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Safari/605.1.15', weight: 12, iso: 'no', mobileApp: false },
  { agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 19_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148', weight: 20, iso: 'no', mobileApp: false },
  { agent: 'Mozilla/5.0 (Linux; Android 16) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36', weight: 18, iso: 'no', mobileApp: false },
  { agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0', weight: 5, iso: 'no', mobileApp: false },
  { agent: 'ShopApp/7.4.1 (iPhone; iOS 19.1; Scale/3.00)', weight: 6, iso: 'z', mobileApp: true },
  { agent: 'ShopApp/7.4.0 (Linux; Android 16; Pixel 10)', weight: 6, iso: 'no', mobileApp: true },
  { agent: 'PartnerFeed/2.1 (+https://partner.example.net/bot)', weight: 1, iso: 'offset', mobileApp: false },
];
const MERCHANTS = ['grocer-4411', 'fuel-0271', 'cafe-1893', 'restaurant-5512', 'pharmacy-3320', 'marketplace-0001', 'airline-7007', 'hotel-2290', 'electronics-6060', 'fashion-8182', 'transit-1100', 'streaming-9090'];
const MERCHANT_WEIGHTS = [20, 10, 14, 12, 6, 14, 2, 3, 4, 8, 5, 2];
const RING_MERCHANTS = ['electronics-6060', 'marketplace-0001', 'giftcards-6666', 'jewellery-4040', 'airline-7007'];

function urlCatalogue(random: SeededRandom): string[] {
  // Popularity rank order: the home page and search first, then products mixed with the rest.
  const rest: string[] = [];
  for (let i = 1; i <= 240; i++) rest.push(`/products/${1000 + i * 7}`);
  for (let i = 1; i <= 30; i++) rest.push(`/blog/post-${i}`);
  for (const c of ['shoes', 'books', 'garden', 'toys', 'kitchen', 'audio', 'cameras', 'sports', 'beauty', 'games', 'office', 'pets']) rest.push(`/category/${c}`);
  rest.push('/checkout', '/login', '/account', '/help', '/about', '/wishlist', '/orders');
  return ['/', '/search', '/cart', ...random.shuffle(rest)];
}

/** Relative traffic per minute of the UTC day: a night trough, a mid-day and an evening peak. */
function dailyCurve(): WeightedSampler {
  const w: number[] = [];
  for (let m = 0; m < 1440; m++) {
    const h = m / 60;
    w.push(0.12 + Math.exp(-((h - 13) ** 2) / 18) + 0.8 * Math.exp(-((h - 20) ** 2) / 6) + 0.25 * Math.exp(-((h - 8) ** 2) / 3));
  }
  return new WeightedSampler(w);
}

// --- options ---------------------------------------------------------------------------------------

type Resolved = Required<DayOptions> & { dayStart: number };

function resolveOptions(options: DayOptions): Resolved {
  const o = {
    seed: 42, date: '2026-11-23', clicks: 1_000_000, transactions: 100_000, fraudRings: 5,
    outOfOrderFraction: 0.02, lateFraction: 0.005, maxOutOfOrderness: 30_000, allowedLateness: 300_000, invalidFraction: 0,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<DayOptions>;
  if (!Number.isFinite(o.seed)) throw new ConfigError(`seed must be a finite number, got ${o.seed}`);
  const dayStart = /^\d{4}-\d{2}-\d{2}$/.test(o.date) ? Date.parse(`${o.date}T00:00:00.000Z`) : Number.NaN;
  if (!Number.isFinite(dayStart) || new Date(dayStart).toISOString().slice(0, 10) !== o.date) {
    throw new ConfigError(`date must be a UTC calendar date YYYY-MM-DD, got "${o.date}"`);
  }
  for (const key of ['clicks', 'transactions', 'fraudRings', 'maxOutOfOrderness', 'allowedLateness'] as const) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 0) throw new ConfigError(`${key} must be a non-negative integer, got ${o[key]}`);
  }
  for (const key of ['clicks', 'transactions'] as const) {
    if (o[key] > 2 ** 26) throw new ConfigError(`${key} must be at most ${2 ** 26} per day, got ${o[key]}`);
  }
  for (const key of ['outOfOrderFraction', 'lateFraction', 'invalidFraction'] as const) {
    if (!(o[key] >= 0 && o[key] <= 1)) throw new ConfigError(`${key} must be a fraction in [0, 1], got ${o[key]}`);
  }
  if (o.outOfOrderFraction + o.lateFraction > 1) {
    throw new ConfigError(`outOfOrderFraction + lateFraction must be at most 1, got ${o.outOfOrderFraction + o.lateFraction}`);
  }
  return { ...o, dayStart };
}

// --- formatting ------------------------------------------------------------------------------------

const OFFSETS = ['+01:00', '+02:00', '-05:00', '+05:30', '-0300', '+09:00'];

function isoZ(ts: number): string {
  return new Date(ts).toISOString();
}

/** The same instant written in a local time with an offset, e.g. 2026-11-23T15:30:00.000+05:30. */
function isoWithOffset(ts: number, offset: string): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const minutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  return new Date(ts + minutes * 60_000).toISOString().slice(0, 23) + offset;
}

/** Integer minor units as a JSON number with exactly 2 decimals. */
function money(cents: number): string {
  const c = cents % 100;
  return `${(cents - c) / 100}.${c < 10 ? '0' : ''}${c}`;
}

/** A line that fails JSON parsing or schema validation, shaped like a real event of the topic. */
function invalidLine(topic: 'clicks' | 'transactions', id: string, ts: number, random: SeededRandom): string {
  const base = topic === 'clicks'
    ? { event_id: id, ts, url: '/cart', visitor_id: `v-${random.int(0, 999)}` }
    : { txn_id: id, ts, user_id: `u-${random.int(0, 999)}`, country: 'FR', amount: 12.5 };
  const json = (o: unknown) => JSON.stringify(o);
  const required = topic === 'clicks' ? 'visitor_id' : 'user_id';
  switch (random.int(0, 8)) {
    case 0: { // truncated (a writer died mid-line)
      const full = json(base);
      return full.slice(0, random.int(1, full.length - 1));
    }
    case 1: { // a required field missing
      const { [required]: _dropped, ...rest } = base as Record<string, unknown>;
      return json(rest);
    }
    case 2: // wrong type: numeric id
      return json({ ...base, [topic === 'clicks' ? 'event_id' : 'txn_id']: Number(id.replace(/\D/g, '')) });
    case 3: // unparsable ts
      return json({ ...base, ts: 'next tuesday' });
    case 4: // ISO ts without a zone: ambiguous, rejected
      return json({ ...base, ts: isoZ(ts).slice(0, 19) });
    case 5: // fractional epoch ms
      return json({ ...base, ts: ts + 0.5 });
    case 6: // empty required string, or an amount with 3 decimals
      return topic === 'clicks' ? json({ ...base, visitor_id: '' }) : json({ ...base, amount: '12.345' });
    case 7: // not an object
      return random.chance(0.5) ? json([base]) : json(`${id} ${ts}`);
    default: // a producer that wrote its language's dict syntax instead of JSON
      return json(base).replaceAll('"', "'");
  }
}

/**
 * Collects lines in arrival order. Lines are appended to one text per few thousand lines, which is
 * then split: each line is a slice of a large flat string, never a chain of concatenated fragments,
 * so the garbage collector moves a few small objects per line and consumers never flatten them
 * (measured: 15-25% faster in all than keeping each line's own concatenation, at 1M clicks).
 */
class LineBuffer {
  readonly lines: string[] = [];
  private text = '';
  private count = 0;

  push(line: string): void {
    this.text += line;
    this.text += '\n';
    if (++this.count === 4096) this.flush();
  }

  finish(): string[] {
    this.flush();
    return this.lines;
  }

  private flush(): void {
    if (this.count === 0) return;
    const lines = this.text.split('\n');
    if (lines.length !== this.count + 1) throw new Error(`internal: a generated line contains a newline`);
    for (let i = 0; i < this.count; i++) this.lines.push(lines[i]!);
    this.text = '';
    this.count = 0;
  }
}

/** Which time ranks become malformed lines (undefined when none are asked for). */
function invalidMask(n: number, random: SeededRandom, fraction: number): Uint8Array | undefined {
  if (fraction <= 0) return undefined;
  const mask = new Uint8Array(n);
  for (let j = 0; j < n; j++) mask[j] = random.next() < fraction ? 1 : 0;
  return mask;
}

function emptyTopicStats(lines: number): TopicStats {
  return { lines, outOfOrder: 0, late: 0, invalid: 0, isoTimestamps: 0 };
}

// --- clicks ----------------------------------------------------------------------------------------

function generateClicks(n: number, random: SeededRandom, o: Resolved): { lines: string[]; stats: TopicStats } {
  const stats = emptyTopicStats(n);
  if (n === 0) return { lines: [], stats };
  const curve = dailyCurve();
  const urls = urlCatalogue(random.fork('urls'));
  const urlRank = WeightedSampler.zipf(urls.length, 1.05);
  const landingRank = WeightedSampler.zipf(urls.length, 1.25); // first pages concentrate on the home page and search
  const clientSampler = new WeightedSampler(CLIENTS.map((c) => c.weight));
  const countrySampler = new WeightedSampler(COUNTRY_WEIGHTS);

  // Visitors: a pool sized so that ~15% of clicks come from distinct visitors; returning visitors are skewed.
  const pool = Math.max(1, Math.round(n * 0.37));
  const visitorClient = new Uint8Array(pool);
  const visitorCountry = new Uint8Array(pool);
  const attrs = random.fork('visitors');
  for (let v = 0; v < pool; v++) {
    visitorClient[v] = clientSampler.sample(attrs);
    visitorCountry[v] = countrySampler.sample(attrs);
  }

  // Sessions: a visitor views a few pages (mean 5), ~40 s apart; clicks after midnight are dropped.
  const offsets = new Float64Array(n);
  const visitor = new Int32Array(n);
  const landing = new Uint8Array(n);
  const sessions = random.fork('sessions');
  let count = 0;
  while (count < n) {
    let t = curve.sample(sessions) * 60_000 + Math.floor(sessions.next() * 60_000);
    const v = Math.floor(pool * sessions.next() ** 1.6);
    const pages = Math.min(n - count, sessions.geometric(5));
    for (let p = 0; p < pages && t < DAY_MS; p++) {
      offsets[count] = t;
      visitor[count] = v;
      landing[count] = p === 0 ? 1 : 0;
      count++;
      t += 1_000 + Math.floor(sessions.exponential(39_000));
    }
  }

  const { byTime, sortedOffsets } = timeOrder(offsets);
  const mobile = (rank: number) => CLIENTS[visitorClient[visitor[byTime[rank]!]!]!]!.mobileApp;
  const invalid = invalidMask(n, random.fork('invalid'), o.invalidFraction);
  const plan = planArrivals(sortedOffsets, random.fork('arrival'), o, mobile, invalid);
  stats.outOfOrder = plan.outOfOrder;
  stats.late = plan.late;

  const clientJson = CLIENTS.map((c) => `,"user_agent":${JSON.stringify(c.agent)}}`);
  const countryJson = COUNTRIES.map((c) => `,"country":"${c}"`);
  const urlJson = urls.map((u) => `,"url":${JSON.stringify(u)},"visitor_id":"v-`);
  const referrerJson = REFERRERS.map((r) => `,"referrer":${JSON.stringify(r)}`);
  const fields = random.fork('fields');
  const out = new LineBuffer();
  for (let k = 0; k < n; k++) {
    const rank = plan.order[k]!;
    const i = byTime[rank]!;
    const ts = o.dayStart + sortedOffsets[rank]!;
    if (invalid?.[rank] === 1) {
      out.push(invalidLine('clicks', `c-${rank}`, ts, fields));
      stats.invalid++;
      continue;
    }
    const v = visitor[i]!;
    const client = visitorClient[v]!;
    const iso = CLIENTS[client]!.iso;
    let tsJson: string;
    if (iso === 'no') tsJson = String(ts);
    else {
      tsJson = `"${iso === 'z' ? isoZ(ts) : isoWithOffset(ts, OFFSETS[v % OFFSETS.length]!)}"`;
      stats.isoTimestamps++;
    }
    const url = landing[i] === 1 ? landingRank.sample(fields) : urlRank.sample(fields);
    // Referrer: external on ~half of the landing pages; internal navigation sends none here.
    const referrer = landing[i] === 1 && fields.next() < 0.5 ? referrerJson[Math.floor(fields.next() * referrerJson.length)]! : '';
    // Geo lookup fails for ~1% of visitors: country is optional.
    const country = v % 97 === 13 ? '' : countryJson[visitorCountry[v]!]!;
    out.push(`{"event_id":"c-${rank}","ts":${tsJson}${urlJson[url]!}${v}"${country}${referrer}${clientJson[client]!}`);
  }
  return { lines: out.finish(), stats };
}

// --- transactions ----------------------------------------------------------------------------------

function generateTransactions(
  n: number, rings: number, random: SeededRandom, o: Resolved,
): { lines: string[]; stats: TopicStats; fraudUserIds: string[] } {
  const stats = emptyTopicStats(n);
  if (n === 0) return { lines: [], stats, fraudUserIds: [] };
  const curve = dailyCurve();
  const countrySampler = new WeightedSampler(COUNTRY_WEIGHTS);
  const merchantSampler = new WeightedSampler(MERCHANT_WEIGHTS);

  // Card holders: ~4 transactions each per day; 3% are travelling (a second country today).
  const users = Math.max(1, Math.round(n / 4));
  const home = new Uint8Array(users);
  const abroad = new Int16Array(users).fill(-1);
  const attrs = random.fork('users');
  for (let u = 0; u < users; u++) {
    home[u] = countrySampler.sample(attrs);
    if (attrs.next() < 0.03) {
      let a = countrySampler.sample(attrs);
      if (a === home[u]) a = (a + 1) % COUNTRIES.length;
      abroad[u] = a;
    }
  }

  const offsets = new Float64Array(n);
  const user = new Int32Array(n);
  const country = new Uint8Array(n);
  const ring = new Uint8Array(n);
  let count = 0;

  // Fraud rings: 2-4 compromised cards each, used from 4-6 different countries, 15-80 s apart.
  const fraud = random.fork('rings');
  const compromised = new Set<number>();
  for (let r = 0; r < rings; r++) {
    const members = fraud.int(2, 4);
    const hops: number[] = Array.from({ length: members }, () => fraud.int(4, 6));
    if (count + hops.reduce((a, b) => a + b, 0) > n) break; // not enough transactions requested for another ring
    const start = fraud.int(15 * 60_000, DAY_MS - 45 * 60_000);
    for (let m = 0; m < members; m++) {
      let u = fraud.int(0, users - 1);
      for (let tries = 0; compromised.has(u) && tries < 100; tries++) u = fraud.int(0, users - 1);
      if (compromised.has(u)) continue; // tiny user pools: fewer members
      compromised.add(u);
      const picked = fraud.shuffle(COUNTRIES.map((_, c) => c)).slice(0, hops[m]!);
      let t = start + m * fraud.int(20_000, 60_000);
      for (const c of picked) {
        offsets[count] = t;
        user[count] = u;
        country[count] = c;
        ring[count] = 1;
        count++;
        t += fraud.int(15_000, 80_000);
      }
    }
  }

  // Normal transactions: heavier users transact more; travellers mostly abroad, sometimes at home (online).
  const normal = random.fork('transactions');
  while (count < n) {
    const u = Math.floor(users * normal.next() ** 1.3);
    offsets[count] = curve.sample(normal) * 60_000 + Math.floor(normal.next() * 60_000);
    user[count] = u;
    const a = abroad[u]!;
    country[count] = a >= 0 && normal.next() < 0.7 ? a : home[u]!;
    count++;
  }

  const { byTime, sortedOffsets } = timeOrder(offsets);
  const invalid = invalidMask(n, random.fork('invalid'), o.invalidFraction);
  const plan = planArrivals(sortedOffsets, random.fork('arrival'), o, undefined, invalid);
  stats.outOfOrder = plan.outOfOrder;
  stats.late = plan.late;

  const countryJson = COUNTRIES.map((c) => `","country":"${c}","amount":`);
  const currencyOf = COUNTRIES.map((c) => CURRENCY[c] ?? 'EUR');
  const currencyJson = currencyOf.map((c) => `,"currency":"${c}","merchant":"`);
  const fields = random.fork('fields');
  const out = new LineBuffer();
  for (let k = 0; k < n; k++) {
    const rank = plan.order[k]!;
    const i = byTime[rank]!;
    const ts = o.dayStart + sortedOffsets[rank]!;
    if (invalid?.[rank] === 1) {
      out.push(invalidLine('transactions', `t-${rank}`, ts, fields));
      stats.invalid++;
      continue;
    }
    const isRing = ring[i] === 1;
    const c = country[i]!;
    const currency = currencyOf[c]!;
    // Amounts: log-normal around $28 (rings: around $400), in local currency, 2 decimals (JPY whole).
    const usd = Math.min(20_000, Math.max(0.5, fields.logNormal(isRing ? 400 : 28, isRing ? 0.6 : 1.0)));
    const local = usd * PER_USD[currency]!;
    const cents = currency === 'JPY' ? Math.round(local) * 100 : Math.round(local * 100);
    const merchant = isRing ? RING_MERCHANTS[Math.floor(fields.next() * RING_MERCHANTS.length)]! : MERCHANTS[merchantSampler.sample(fields)]!;
    const form = fields.next();
    let tsJson: string;
    if (form < 0.88) tsJson = String(ts);
    else {
      tsJson = `"${form < 0.98 ? isoZ(ts) : isoWithOffset(ts, OFFSETS[i % OFFSETS.length]!)}"`;
      stats.isoTimestamps++;
    }
    out.push(`{"txn_id":"t-${rank}","ts":${tsJson},"user_id":"u-${user[i]!}${countryJson[c]!}${money(cents)}${currencyJson[c]!}${merchant}"}`);
  }
  const fraudUserIds = [...compromised].map((u) => `u-${u}`).sort();
  return { lines: out.finish(), stats, fraudUserIds };
}

// --- the day -------------------------------------------------------------------------------------

export function generateDay(options: DayOptions = {}): GeneratedDay {
  const o = resolveOptions(options);
  const root = new SeededRandom(o.seed);
  const clicks = generateClicks(o.clicks, root.fork('clicks'), o);
  const transactions = generateTransactions(o.transactions, o.fraudRings, root.fork('transactions'), o);
  const c = clicks.stats, t = transactions.stats;
  return {
    clicks: clicks.lines,
    transactions: transactions.lines,
    stats: {
      clicks: c.lines,
      transactions: t.lines,
      outOfOrder: c.outOfOrder + t.outOfOrder,
      late: c.late + t.late,
      invalid: c.invalid + t.invalid,
      fraudUsers: transactions.fraudUserIds.length,
      perTopic: { clicks: c, transactions: t },
    },
    fraudUserIds: transactions.fraudUserIds,
  };
}

/** Writes lines as JSONL ('\n' after each line), in chunks of about 4 MB; creates the directory. */
export async function writeJsonl(path: string, lines: readonly string[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'w');
  try {
    let chunk: string[] = [];
    let size = 0;
    for (const line of lines) {
      chunk.push(line);
      size += line.length + 1;
      if (size >= 4_000_000) {
        await file.write(chunk.join('\n') + '\n');
        chunk = [];
        size = 0;
      }
    }
    if (chunk.length > 0) await file.write(chunk.join('\n') + '\n');
  } finally {
    await file.close();
  }
}
