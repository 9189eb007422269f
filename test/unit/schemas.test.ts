import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SchemaViolationError } from '../../pipeline/errors.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { clicksSchema, transactionsSchema } from '../../examples/seed.ts';
import { arrowType, duckdbType, normaliseDecimal, validateEvent } from '../../schemas/schema.ts';

const pos = { source: 'test', offset: 7 };
const click = { event_id: 'c1', ts: 1_700_000_000_000, url: '/', visitor_id: 'v' };

describe('event schemas', () => {
  it('normalises ISO-8601 with Z or an offset to epoch ms UTC', () => {
    expect(validateEvent(clicksSchema, { ...click, ts: '2026-11-24T10:00:00.123Z' }).ts).toBe(Date.UTC(2026, 10, 24, 10, 0, 0, 123));
    expect(validateEvent(clicksSchema, { ...click, ts: '2026-11-24T12:00:00+02:00' }).ts).toBe(Date.UTC(2026, 10, 24, 10));
    expect(validateEvent(clicksSchema, { ...click, ts: '2026-11-24T05:30:00.5-0430' }).ts).toBe(Date.UTC(2026, 10, 24, 10, 0, 0, 500));
  });

  it('rejects a bare local time instead of guessing its zone', () => {
    expect(() => validateEvent(clicksSchema, { ...click, ts: '2026-11-24T10:00:00' })).toThrow(/ts: .*no time zone/);
    expect(() => validateEvent(clicksSchema, { ...click, ts: '2026-11-24' })).toThrow(/no time zone/);
  });

  it('rejects impossible dates and non-integer or out-of-range epoch values', () => {
    expect(() => validateEvent(clicksSchema, { ...click, ts: '2026-02-30T00:00:00Z' })).toThrow(/not a valid calendar time/);
    expect(() => validateEvent(clicksSchema, { ...click, ts: 1.5 })).toThrow(/integer/);
    expect(() => validateEvent(clicksSchema, { ...click, ts: -1 })).toThrow(/outside/);
    expect(() => validateEvent(clicksSchema, { ...click, ts: 'yesterday' })).toThrow(/not an ISO-8601/);
  });

  it('rejects a UTC offset past +-23:59 (+25:00 moved the event a day back, unseen) and takes the widest real ones', () => {
    for (const ts of ['2026-11-24T10:00:00+25:00', '2026-11-24T10:00:00-24:00', '2026-11-24T10:00:00+05:99', '2026-11-24T10:00:00+0560']) {
      expect(() => validateEvent(clicksSchema, { ...click, ts })).toThrow(/ts: .* has no valid UTC offset \(at most \+-23:59\)/);
    }
    expect(validateEvent(clicksSchema, { ...click, ts: '2026-11-24T10:00:00+14:00' }).ts).toBe(Date.parse('2026-11-23T20:00:00Z'));
    expect(validateEvent(clicksSchema, { ...click, ts: '2026-11-24T10:00:00-23:59' }).ts).toBe(Date.parse('2026-11-25T09:59:00Z'));
  });

  it('names the offending field', () => {
    try {
      validateEvent(clicksSchema, { ...click, url: 42 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SchemaViolationError);
      expect((error as SchemaViolationError).field).toBe('url');
      expect((error as Error).name).toBe('SchemaViolationError');
      expect((error as Error).message).toBe('url: expected a string, got number 42');
    }
    expect(() => validateEvent(clicksSchema, { ts: 1 })).toThrow(/^event_id: is required$/);
  });

  it('holds amounts as exact integer minor units', () => {
    const t = { txn_id: 't', ts: 0, user_id: 'u', country: 'FR' };
    expect(validateEvent(transactionsSchema, { ...t, amount: 12.34 }).amount).toBe(1234);
    expect(validateEvent(transactionsSchema, { ...t, amount: '0.1' }).amount).toBe(10);
    expect(validateEvent(transactionsSchema, { ...t, amount: -5 }).amount).toBe(-500);
    expect(validateEvent(transactionsSchema, { ...t, amount: '19.99' }).amount).toBe(1999);
    expect(() => validateEvent(transactionsSchema, { ...t, amount: 1.234 })).toThrow(/amount: .*2 decimal places/);
    expect(() => validateEvent(transactionsSchema, { ...t, amount: true })).toThrow(/amount: expected a number/);
  });

  // JavaScript writes numbers below 1e-6 in exponent form: 0.0000001 in a decimal(9) field was a dead letter.
  it('reads a JSON number with at most N decimals as its exact minor units, however small', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -(10 ** 15) + 1, max: 10 ** 15 - 1 }), (scale, minor) => {
      const digits = String(Math.abs(minor)).padStart(scale + 1, '0');
      const text = `${minor < 0 ? '-' : ''}${scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`}`;
      expect(normaliseDecimal(JSON.parse(text), 'amount', scale)).toBe(minor === 0 ? 0 : minor);
    }), { numRuns: 2000 });
    expect(normaliseDecimal(1e-7, 'tip', 9)).toBe(100);
    expect(() => normaliseDecimal(1e-10, 'tip', 9)).toThrow('tip: 0.0000000001 is not a number with at most 9 decimal places');
    expect(() => normaliseDecimal(1e21, 'tip', 0)).toThrow('tip: 1000000000000000000000 is too large to be held exactly');
  });

  it('keeps optional fields when present, drops unknown fields', () => {
    const e = validateEvent(clicksSchema, { ...click, country: 'FR', extra: 1, referrer: null });
    expect(e).toEqual({ ...click, country: 'FR' });
  });

  it('derives archive column types from the same definition', () => {
    expect(Object.fromEntries(Object.entries(transactionsSchema.fields).map(([k, f]) => [k, duckdbType(f.kind)]))).toEqual({
      txn_id: 'VARCHAR', ts: 'TIMESTAMP_MS', user_id: 'VARCHAR', country: 'VARCHAR', amount: 'BIGINT', currency: 'VARCHAR', merchant: 'VARCHAR',
    });
    expect(arrowType(clicksSchema.fields.ts!.kind)).toBe('Timestamp<MILLISECOND, UTC>');
  });
});

describe('decodeLine (dead letters instead of exceptions)', () => {
  it.each([
    ['{"event_id": "c1", "ts": ', null, /^malformed JSON/],
    ['[1,2]', '(event)', /expected a JSON object, got an array/],
    ['{"event_id":"c1","ts":1,"url":"/"}', 'visitor_id', /visitor_id: is required/],
    ['{"event_id":"c1","ts":"soon","url":"/","visitor_id":"v"}', 'ts', /ts: "soon" is not an ISO-8601/],
    ['{"event_id":"c1","ts":"2026-01-01T00:00:00","url":"/","visitor_id":"v"}', 'ts', /no time zone/],
    ['{"event_id":7,"ts":1,"url":"/","visitor_id":"v"}', 'event_id', /expected a string/],
  ])('%s', (line, field, reason) => {
    const d = decodeLine(clicksSchema, line, pos);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.deadLetter).toMatchObject({ source: 'test', offset: 7, field, raw: line });
      expect(d.deadLetter.reason).toMatch(reason);
    }
  });
});

describe('a timestamp refused says what to write instead', () => {
  const refused = (ts: unknown) => {
    try {
      validateEvent(clicksSchema, { ...click, ts });
    } catch (error) {
      return (error as Error).message;
    }
    return expect.unreachable();
  };

  it('a date alone asks for a time of day ("add Z" to it was refused again)', () => {
    expect(refused('2026-11-24')).toBe('ts: "2026-11-24" has no time of day and no time zone; write a time with Z or an offset, e.g. "2026-11-24T00:00:00Z"');
    expect(refused('2026-11-24Z')).toBe('ts: "2026-11-24Z" has no time of day; write a time with Z or an offset, e.g. "2026-11-24T00:00:00Z"');
  });

  it('epoch milliseconds in a string ask for a JSON number (they read as "not epoch milliseconds")', () => {
    expect(refused('1732440000000')).toBe('ts: "1732440000000" is a string; write epoch milliseconds as a JSON number (1732440000000), or an ISO-8601 time with Z or an offset');
  });

  it('years 0000-0099 are outside 1970..9999 (they read as "not a valid calendar time"); 1969 with an offset into 1970 is taken', () => {
    expect(refused('0050-06-01T00:00:00Z')).toBe('ts: "0050-06-01T00:00:00Z" is outside years 1970..9999 (UTC)');
    expect(refused('1969-12-31T23:59:59.999Z')).toBe('ts: "1969-12-31T23:59:59.999Z" is outside years 1970..9999 (UTC)');
    expect(validateEvent(clicksSchema, { ...click, ts: '1969-12-31T20:00:00-05:00' }).ts).toBe(3_600_000);
  });
});
