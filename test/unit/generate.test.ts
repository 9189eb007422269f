import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom, WeightedSampler } from '../../generate/random.ts';
import { generateDay, writeJsonl, type DayOptions } from '../../generate/realistic-day.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { lateIndexes, ruleOracle, type Ev } from '../fixtures/oracles.ts';
import { clicksSchema, transactionsSchema } from '../../examples/seed.ts';
import { validateEvent, type AnyEvent, type EventSchema } from '../../schemas/schema.ts';

const DAY_START = Date.parse('2026-11-23T00:00:00Z');

function parseAll(lines: readonly string[], schema: EventSchema) {
  const ok: AnyEvent[] = [];
  const bad: string[] = [];
  for (const line of lines) {
    try {
      ok.push(validateEvent(schema, JSON.parse(line)) as AnyEvent);
    } catch (error) {
      bad.push(error instanceof SyntaxError ? 'json' : String((error as { field?: string }).field) + ':' + (error as Error).message.replace(/".*?"|\d+/g, '_'));
    }
  }
  return { ok, bad };
}

/** Disorder as seen in arrival order: d = (max ts before the event) - ts. */
function disorder(events: readonly AnyEvent[], B: number, L: number) {
  let max = -Infinity, outOfOrder = 0, late = 0, between = 0;
  for (const e of events) {
    const ts = e.ts as number;
    const d = max - ts;
    if (d > 0 && d < B) outOfOrder++;
    else if (d >= B + L) late++;
    else if (d >= B) between++;
    if (ts > max) max = ts;
  }
  return { outOfOrder, late, between };
}

const evs = (events: readonly AnyEvent[], key: string, value: string, id: string): Ev[] =>
  events.map((e) => ({ id: String(e[id]), ts: e.ts as number, key: String(e[key] ?? ''), value: String(e[value]) }));

describe('SeededRandom and WeightedSampler', () => {
  it('same seed, same numbers; other seeds and forks differ; all in range', () => {
    const seq = (r: SeededRandom) => Array.from({ length: 50 }, () => r.next());
    expect(seq(new SeededRandom(42))).toEqual(seq(new SeededRandom(42)));
    expect(seq(new SeededRandom(42))).not.toEqual(seq(new SeededRandom(43)));
    expect(seq(new SeededRandom(42))).not.toEqual(seq(new SeededRandom(42.5)));
    expect(seq(new SeededRandom(1).fork('a'))).not.toEqual(seq(new SeededRandom(1).fork('b')));
    const r = new SeededRandom(7);
    for (let i = 0; i < 10_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = r.int(-2, 3);
      expect(Number.isInteger(k) && k >= -2 && k <= 3).toBe(true);
    }
    expect(() => new SeededRandom(Number.NaN)).toThrow(RangeError);
  });

  it('helpers have the right means', () => {
    const r = new SeededRandom(3);
    const mean = (f: () => number) => { let s = 0; for (let i = 0; i < 50_000; i++) s += f(); return s / 50_000; };
    expect(mean(() => r.exponential(40))).toBeCloseTo(40, -0.5);
    expect(mean(() => r.normal())).toBeCloseTo(0, 1);
    expect(mean(() => r.geometric(5))).toBeCloseTo(5, 0);
    expect(mean(() => (r.chance(0.2) ? 1 : 0))).toBeCloseTo(0.2, 1);
  });

  it('weighted sampling follows the weights (zipf: rank 1 twice rank 2)', () => {
    const r = new SeededRandom(5);
    const s = new WeightedSampler([1, 0, 3]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[s.sample(r)]!++;
    expect(counts[1]).toBe(0);
    expect(counts[2]! / counts[0]!).toBeCloseTo(3, 0);
    const z = WeightedSampler.zipf(100, 1);
    const zc = new Array<number>(100).fill(0);
    for (let i = 0; i < 100_000; i++) zc[z.sample(r)]!++;
    expect(zc[0]! / zc[1]!).toBeCloseTo(2, 0);
    expect(zc[0]! / zc[9]!).toBeGreaterThan(7);
  });
});

describe('generateDay', () => {
  const options: DayOptions = { clicks: 20_000, transactions: 4_000, seed: 7 };
  const B = 30_000, L = 300_000;
  const day = generateDay(options);
  const clicks = parseAll(day.clicks, clicksSchema);
  const txns = parseAll(day.transactions, transactionsSchema);

  it('is deterministic by seed; topics are independent of each other', () => {
    const again = generateDay(options);
    expect(again.clicks).toEqual(day.clicks);
    expect(again.transactions).toEqual(day.transactions);
    expect(again.stats).toEqual(day.stats);
    const other = generateDay({ ...options, seed: 8 });
    expect(other.clicks.slice(0, 100)).not.toEqual(day.clicks.slice(0, 100));
    expect(other.transactions.slice(0, 100)).not.toEqual(day.transactions.slice(0, 100));
    // `produce` generates one topic at a time: the other topic's count must not change this one.
    expect(generateDay({ ...options, transactions: 0 }).clicks).toEqual(day.clicks);
    expect(generateDay({ ...options, clicks: 0 }).transactions).toEqual(day.transactions);
  });

  it('makes exactly the requested number of valid events, unique ids, all within the day', () => {
    expect([day.clicks.length, day.transactions.length]).toEqual([20_000, 4_000]);
    expect([day.stats.clicks, day.stats.transactions, day.stats.invalid]).toEqual([20_000, 4_000, 0]);
    expect([clicks.ok.length, clicks.bad.length, txns.ok.length, txns.bad.length]).toEqual([20_000, 0, 4_000, 0]);
    expect(new Set(clicks.ok.map((e) => e.event_id)).size).toBe(20_000);
    expect(new Set(txns.ok.map((e) => e.txn_id)).size).toBe(4_000);
    for (const e of [...clicks.ok, ...txns.ok]) {
      expect(e.ts as number).toBeGreaterThanOrEqual(DAY_START);
      expect(e.ts as number).toBeLessThan(DAY_START + 86_400_000);
    }
    expect(day.clicks.every((l) => !l.includes('\n'))).toBe(true);
  });

  it('writes ts as epoch ms mostly, ISO with Z sometimes, with an offset rarely; amounts with 2 decimals', () => {
    for (const [lines, topic] of [[day.clicks, 'clicks'], [day.transactions, 'transactions']] as const) {
      const z = lines.filter((l) => /"ts":"[^"]+Z"/.test(l)).length;
      const offset = lines.filter((l) => /"ts":"[^"]+[+-]\d\d:?\d\d"/.test(l)).length;
      const epoch = lines.filter((l) => /"ts":\d+,/.test(l)).length;
      expect(z + offset + epoch).toBe(lines.length);
      expect(z).toBeGreaterThan(lines.length * 0.02);
      expect(offset).toBeGreaterThan(0);
      expect((z + offset) / lines.length).toBeLessThan(0.2);
      expect(z + offset).toBe(day.stats.perTopic[topic].isoTimestamps);
    }
    expect(day.transactions.every((l) => /"amount":\d+\.\d\d,/.test(l))).toBe(true);
  });

  it('looks like real traffic: skewed URLs and visitors, a daily curve, countries, referrers, agents', () => {
    const urls = new Map<string, number>();
    for (const e of clicks.ok) urls.set(String(e.url), (urls.get(String(e.url)) ?? 0) + 1);
    const byPopularity = [...urls.values()].sort((a, b) => b - a);
    expect(urls.size).toBeGreaterThan(150);
    expect(urls.size).toBeLessThan(400);
    expect(byPopularity[0]! / 20_000).toBeGreaterThan(0.08); // the home page
    expect(byPopularity.slice(0, 10).reduce((a, b) => a + b, 0) / 20_000).toBeGreaterThan(0.35);
    const visitors = new Set(clicks.ok.map((e) => e.visitor_id)).size;
    expect(visitors / 20_000).toBeGreaterThan(0.1); // ~150k distinct per 1M clicks
    expect(visitors / 20_000).toBeLessThan(0.25);
    const hour = (h: number) => clicks.ok.filter((e) => new Date(e.ts as number).getUTCHours() === h).length;
    expect(hour(3) * 3).toBeLessThan(hour(13));
    expect(new Set(clicks.ok.map((e) => e.country)).size).toBeGreaterThan(10);
    expect(clicks.ok.filter((e) => e.country === undefined).length).toBeGreaterThan(0); // optional field absent sometimes
    expect(clicks.ok.filter((e) => e.referrer !== undefined).length / 20_000).toBeGreaterThan(0.05);
    expect(new Set(clicks.ok.map((e) => e.user_agent)).size).toBeGreaterThan(5);
    expect(new Set(txns.ok.map((e) => e.currency)).size).toBeGreaterThan(5);
  });

  it('delays ~2% by less than B (out of order, never late) and ~0.5% beyond B + L (late)', () => {
    for (const [events, topic, n] of [[clicks.ok, 'clicks', 20_000], [txns.ok, 'transactions', 4_000]] as const) {
      const stats = day.stats.perTopic[topic];
      const seen = disorder(events, B, L);
      // Exactly the counted events are out of order; sparse streams (a transaction every ~20 s here)
      // have fewer, as an event can only pass a later one if that is less than B away.
      expect(seen.outOfOrder).toBe(stats.outOfOrder);
      expect(stats.outOfOrder / n).toBeGreaterThan(topic === 'clicks' ? 0.016 : 0.01);
      expect(stats.outOfOrder / n).toBeLessThan(0.024);
      // Every planned late event is late, nothing else is, and nothing lags between B and B + L.
      expect(seen.late).toBe(stats.late);
      expect(seen.between).toBe(0);
      expect(stats.late / n).toBeGreaterThan(topic === 'clicks' ? 0.0035 : 0.002);
      expect(stats.late / n).toBeLessThan(topic === 'clicks' ? 0.0065 : 0.008);
    }
    expect(day.stats.outOfOrder).toBe(day.stats.perTopic.clicks.outOfOrder + day.stats.perTopic.transactions.outOfOrder);
    expect(day.stats.late).toBe(day.stats.perTopic.clicks.late + day.stats.perTopic.transactions.late);
  });

  it('late events are late for 1-minute windows, 5-minute windows and the rule alike', () => {
    const c = evs(clicks.ok, 'url', 'visitor_id', 'event_id');
    expect(lateIndexes(c, 60_000, B, L).size).toBe(day.stats.perTopic.clicks.late);
    expect(lateIndexes(c, 300_000, B, L).size).toBe(day.stats.perTopic.clicks.late);
    // Rule: late when ts <= W - L, W = max ts before - B - 1.
    let max = -Infinity, ruleLate = 0;
    for (const e of txns.ok) {
      if ((e.ts as number) <= max - B - 1 - L) ruleLate++;
      max = Math.max(max, e.ts as number);
    }
    expect(ruleLate).toBe(day.stats.perTopic.transactions.late);
  });

  it('keeps the contracts with another B and L', () => {
    const b = 5_000, l = 60_000;
    const d = generateDay({ clicks: 50_000, transactions: 1_000, seed: 3, maxOutOfOrderness: b, allowedLateness: l, outOfOrderFraction: 0.1, lateFraction: 0.02 });
    const cl = parseAll(d.clicks, clicksSchema).ok;
    const seen = disorder(cl, b, l);
    expect(seen.late).toBe(d.stats.perTopic.clicks.late);
    expect(seen.between).toBe(0);
    expect(seen.outOfOrder).toBe(d.stats.perTopic.clicks.outOfOrder);
    expect(d.stats.perTopic.clicks.outOfOrder / 50_000).toBeGreaterThan(0.07);
    expect(d.stats.perTopic.clicks.late / 50_000).toBeGreaterThan(0.015);
    const none = generateDay({ clicks: 5_000, transactions: 0, seed: 3, outOfOrderFraction: 0, lateFraction: 0 });
    const s = disorder(parseAll(none.clicks, clicksSchema).ok, B, L);
    expect([s.outOfOrder, s.late, s.between, none.stats.outOfOrder, none.stats.late]).toEqual([0, 0, 0, 0, 0]);
  });

  it('fraud rings, and only they, use a card from more than 3 countries within 10 minutes', () => {
    const alerts = ruleOracle(evs(txns.ok, 'user_id', 'country', 'txn_id'), 600_000, 3);
    const flagged = [...new Set([...alerts.keys()].map((k) => k.split('|')[0]!))].sort();
    expect(day.stats.fraudUsers).toBeGreaterThanOrEqual(10); // 5 rings of 2-4 cards
    expect(day.fraudUserIds).toHaveLength(day.stats.fraudUsers);
    expect(flagged).toEqual(day.fraudUserIds);
    // Normal card holders: one country, travellers two.
    const countries = new Map<string, Set<string>>();
    for (const e of txns.ok) {
      const u = String(e.user_id);
      if (!countries.has(u)) countries.set(u, new Set());
      countries.get(u)!.add(String(e.country));
    }
    const fraud = new Set(day.fraudUserIds);
    const normal = [...countries].filter(([u]) => !fraud.has(u)).map(([, c]) => c.size);
    expect(Math.max(...normal)).toBe(2);
    expect(normal.filter((n) => n === 2).length / normal.length).toBeLessThan(0.1);
  });

  it('scales rings down when too few transactions are requested', () => {
    expect(generateDay({ clicks: 0, transactions: 0 }).stats.fraudUsers).toBe(0);
    const few = generateDay({ clicks: 0, transactions: 12, fraudRings: 5 });
    expect(few.transactions).toHaveLength(12);
    expect(few.stats.fraudUsers).toBeLessThanOrEqual(3);
    expect(generateDay({ clicks: 0, transactions: 1_000, fraudRings: 0 }).stats.fraudUsers).toBe(0);
  });

  it('injects malformed lines of many kinds on request, and counts them per topic', () => {
    const dirty = generateDay({ ...options, invalidFraction: 0.02 });
    const c = parseAll(dirty.clicks, clicksSchema);
    const t = parseAll(dirty.transactions, transactionsSchema);
    expect(c.bad.length).toBe(dirty.stats.perTopic.clicks.invalid);
    expect(t.bad.length).toBe(dirty.stats.perTopic.transactions.invalid);
    expect(c.bad.length + t.bad.length).toBe(dirty.stats.invalid);
    expect(dirty.stats.invalid / 24_000).toBeGreaterThan(0.015);
    expect(dirty.stats.invalid / 24_000).toBeLessThan(0.025);
    const kinds = new Set([...c.bad, ...t.bad].map((k) => k.split(':')[0]));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['(event)', 'json', 'ts', 'visitor_id', 'amount', 'user_id', 'event_id', 'txn_id']));
    expect([...c.bad, ...t.bad].some((k) => k.includes('no time zone'))).toBe(true);
    expect(dirty.clicks).toHaveLength(20_000);
    // Malformed lines move no watermark: the valid events are still exactly as out of order and late as counted.
    for (const [events, topic] of [[c.ok, 'clicks'], [t.ok, 'transactions']] as const) {
      const seen = disorder(events, B, L);
      expect([seen.outOfOrder, seen.late, seen.between]).toEqual([dirty.stats.perTopic[topic].outOfOrder, dirty.stats.perTopic[topic].late, 0]);
    }
  });

  it('rejects bad options with a ConfigError', () => {
    expect(() => generateDay({ clicks: -1 })).toThrow(ConfigError);
    expect(() => generateDay({ clicks: 1.5 })).toThrow(ConfigError);
    expect(() => generateDay({ date: '2026-02-30' })).toThrow(ConfigError);
    expect(() => generateDay({ date: '23/11/2026' })).toThrow(ConfigError);
    expect(() => generateDay({ lateFraction: 1.5 })).toThrow(ConfigError);
    expect(() => generateDay({ outOfOrderFraction: 0.7, lateFraction: 0.7 })).toThrow(ConfigError);
    expect(() => generateDay({ seed: Number.NaN })).toThrow(ConfigError);
  });
});

describe('writeJsonl', () => {
  let dir = '';
  afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  it('writes one line per event, each followed by a newline, creating the directory', async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-gen-'));
    const { clicks } = generateDay({ clicks: 30_000, transactions: 0, seed: 1 }); // > one 4 MB chunk
    const path = join(dir, 'nested', 'clicks.jsonl');
    await writeJsonl(path, clicks);
    expect(await readFile(path, 'utf8')).toBe(clicks.join('\n') + '\n');
    await writeJsonl(join(dir, 'empty.jsonl'), []);
    expect(await readFile(join(dir, 'empty.jsonl'), 'utf8')).toBe('');
    await writeJsonl(join(dir, 'utf8.jsonl'), ['{"txn_id":"日本-\u{1F600}"}']);
    expect(await readFile(join(dir, 'utf8.jsonl'), 'utf8')).toBe('{"txn_id":"日本-\u{1F600}"}\n');
  });
});
