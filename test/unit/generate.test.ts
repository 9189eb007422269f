import { describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { ruleOracle } from '../fixtures/oracles.ts';
import { clicksSchema, transactionsSchema, validateEvent, type AnyEvent } from '../../schemas/index.ts';

const B = 30_000, L = 300_000;

function parseAll(lines: string[], schema: typeof clicksSchema | typeof transactionsSchema) {
  const ok: AnyEvent[] = [];
  let bad = 0;
  for (const line of lines) {
    try {
      ok.push(validateEvent(schema, JSON.parse(line)) as AnyEvent);
    } catch {
      bad++;
    }
  }
  return { ok, bad };
}

describe('generateDay', () => {
  const options = { clicks: 40_000, transactions: 10_000, seed: 7 };
  const day = generateDay(options);

  it('is deterministic by seed', () => {
    const again = generateDay(options);
    expect(again.clicks).toEqual(day.clicks);
    expect(again.transactions).toEqual(day.transactions);
    expect(generateDay({ ...options, seed: 8 }).clicks.slice(0, 50)).not.toEqual(day.clicks.slice(0, 50));
  });

  it('makes the requested counts of valid events within the day, epoch and ISO timestamps both', () => {
    const clicks = parseAll(day.clicks, clicksSchema);
    const txns = parseAll(day.transactions, transactionsSchema);
    expect([clicks.ok.length, clicks.bad, txns.ok.length, txns.bad]).toEqual([40_000, 0, 10_000, 0]);
    const start = Date.parse('2026-11-23T00:00:00Z');
    expect(clicks.ok.every((e) => (e.ts as number) >= start && (e.ts as number) < start + 86_400_000)).toBe(true);
    const iso = day.clicks.filter((l) => /"ts":"/.test(l)).length;
    expect(iso / day.clicks.length).toBeGreaterThan(0.05);
    expect(iso / day.clicks.length).toBeLessThan(0.2);
  });

  it('delays ~2% within B (never late) and ~0.5% beyond B + L', () => {
    const { ok } = parseAll(day.clicks, clicksSchema);
    let max = -Infinity, outOfOrder = 0, beyond = 0;
    for (const e of ok) {
      const ts = e.ts as number;
      if (ts < max) {
        if (ts >= max - B) outOfOrder++;
        else if (ts < max - B - L) beyond++;
      }
      max = Math.max(max, ts);
    }
    expect(outOfOrder / ok.length).toBeGreaterThan(0.01);
    expect(outOfOrder / ok.length).toBeLessThan(0.03);
    expect(beyond / ok.length).toBeGreaterThan(0.003);
    expect(beyond / ok.length).toBeLessThan(0.008);
  });

  it('fraud rings produce users with more than 3 countries within 10 minutes', () => {
    const { ok } = parseAll(day.transactions, transactionsSchema);
    const alerts = ruleOracle(ok.map((e) => ({ id: String(e.txn_id), ts: e.ts as number, key: String(e.user_id), value: String(e.country) })), 600_000, 3);
    const users = new Set([...alerts.keys()].map((k) => k.split('|')[0]!));
    expect([...users].filter((u) => u.startsWith('ring')).length).toBe(day.stats.fraudUsers);
    expect([...users].filter((u) => !u.startsWith('ring')).length).toBeLessThan(day.stats.fraudUsers);
  });

  it('injects malformed lines on request, and counts them', () => {
    const dirty = generateDay({ ...options, invalidFraction: 0.01 });
    const bad = parseAll(dirty.clicks, clicksSchema).bad + parseAll(dirty.transactions, transactionsSchema).bad;
    expect(bad).toBe(dirty.stats.invalid);
    expect(bad).toBeGreaterThan(200);
  });
});
