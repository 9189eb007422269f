import { planArrivals, timeOrder } from './arrival-plan.ts';
import type { Resolved } from './day-options.ts';
import { arrivalLines, emptyTopicStats, invalidMask, isoWithOffset, isoZ, money, OFFSETS, type TopicStats } from './event-lines.ts';
import { SeededRandom, WeightedSampler } from './random.ts';
import { COUNTRIES, COUNTRY_WEIGHTS, dailyCurve, DAY_MS } from './reference-data.ts';

/**
 * The transactions topic: card holders at home or travelling, fraud rings using compromised cards from
 * several countries within minutes, amounts in local currency.
 */

const CURRENCY: Record<string, string> = {
  US: 'USD', GB: 'GBP', IN: 'INR', BR: 'BRL', JP: 'JPY', CA: 'CAD', PL: 'PLN', SE: 'SEK', AU: 'AUD', MX: 'MXN', CH: 'CHF',
};
/** Rough units of local currency per USD, so amounts look plausible in every currency. */
const PER_USD: Record<string, number> = { USD: 1, EUR: 0.92, GBP: 0.79, INR: 84, BRL: 5.6, JPY: 150, CAD: 1.38, PLN: 4, SEK: 10.7, AUD: 1.53, MXN: 19.5, CHF: 0.88 };
const MERCHANTS = ['grocer-4411', 'fuel-0271', 'cafe-1893', 'restaurant-5512', 'pharmacy-3320', 'marketplace-0001', 'airline-7007', 'hotel-2290', 'electronics-6060', 'fashion-8182', 'transit-1100', 'streaming-9090'];
const MERCHANT_WEIGHTS = [20, 10, 14, 12, 6, 14, 2, 3, 4, 8, 5, 2];
const RING_MERCHANTS = ['electronics-6060', 'marketplace-0001', 'giftcards-6666', 'jewellery-4040', 'airline-7007'];

export function generateTransactions(
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
  const lines = arrivalLines('transactions', plan.order, { byTime, sortedOffsets }, o.dayStart, invalid, fields, stats, (i, rank, ts) => {
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
    return `{"txn_id":"t-${rank}","ts":${tsJson},"user_id":"u-${user[i]!}${countryJson[c]!}${money(cents)}${currencyJson[c]!}${merchant}"}`;
  });
  const fraudUserIds = [...compromised].map((u) => `u-${u}`).sort();
  return { lines, stats, fraudUserIds };
}
