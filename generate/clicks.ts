import { planArrivals, timeOrder } from './arrival-plan.ts';
import type { Resolved } from './day-options.ts';
import { arrivalLines, emptyTopicStats, invalidMask, isoWithOffset, isoZ, OFFSETS, type TopicStats } from './event-lines.ts';
import { SeededRandom, WeightedSampler } from './random.ts';
import { COUNTRIES, COUNTRY_WEIGHTS, dailyCurve, DAY_MS } from './reference-data.ts';

/** The clicks topic: visitors and their clients, sessions of page views over the day, Zipf-popular URLs. */

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

function urlCatalogue(random: SeededRandom): string[] {
  // Popularity rank order: the home page and search first, then products mixed with the rest.
  const rest: string[] = [];
  for (let i = 1; i <= 240; i++) rest.push(`/products/${1000 + i * 7}`);
  for (let i = 1; i <= 30; i++) rest.push(`/blog/post-${i}`);
  for (const c of ['shoes', 'books', 'garden', 'toys', 'kitchen', 'audio', 'cameras', 'sports', 'beauty', 'games', 'office', 'pets']) rest.push(`/category/${c}`);
  rest.push('/checkout', '/login', '/account', '/help', '/about', '/wishlist', '/orders');
  return ['/', '/search', '/cart', ...random.shuffle(rest)];
}

export function generateClicks(n: number, random: SeededRandom, o: Resolved): { lines: string[]; stats: TopicStats } {
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
  const lines = arrivalLines('clicks', plan.order, { byTime, sortedOffsets }, o.dayStart, invalid, fields, stats, (i, rank, ts) => {
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
    return `{"event_id":"c-${rank}","ts":${tsJson}${urlJson[url]!}${v}"${country}${referrer}${clientJson[client]!}`;
  });
  return { lines, stats };
}
