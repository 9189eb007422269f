import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastIsoMillis, fastWallMillis } from '../../schemas/iso-fast.ts';
import { parseIsoTimestamp, parseIsoTimestampByPattern } from '../../schemas/schema.ts';

// The fast path of the common ISO shapes must agree with the general parser wherever it answers, and
// must hand over (-1) whatever the general parser rejects.
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) * 100;

const pad = (width: number, min: number, max: number) => fc.integer({ min, max }).map((v) => String(v).padStart(width, '0'));
/** A rare stand-in (anything but what the shape wants) or, mostly, the usual thing. */
const mostly = (usual: string, ...odd: string[]) => fc.oneof({ arbitrary: fc.constant(usual), weight: 12 }, { arbitrary: fc.constantFrom(...odd), weight: 1 });
/** Near-valid texts around the edges: out-of-range fields, other separators and zones, both lengths. */
const nearIso = fc.tuple(
  fc.oneof(pad(4, 1960, 2110), fc.constantFrom('9999', '0050', '1900', '2000', '2100', '12a4')),
  mostly('-', '/'), pad(2, 0, 13), mostly('-', '.'), pad(2, 0, 32),
  fc.constantFrom('T', ' ', 't', 'x'), pad(2, 0, 24), mostly(':', '-'), pad(2, 0, 60), mostly(':', '-'), pad(2, 0, 60),
  fc.oneof(fc.constant(''), fc.tuple(mostly('.', ',', ':'), fc.oneof(pad(3, 0, 999), fc.constantFrom('1a3', '  1', '12', '1234'))).map(([a, b]) => a + b)),
  mostly('Z', 'z', '+00:00', 'Q', ''),
).map((parts) => parts.join(''));

function general(text: string, zone?: string): number | 'rejected' {
  try {
    return parseIsoTimestampByPattern(text, 'ts', zone);
  } catch {
    return 'rejected';
  }
}

describe('fastIsoMillis', () => {
  it('agrees with the general parser wherever it answers, and answers the common shapes', () => {
    let answered = 0;
    fc.assert(fc.property(fc.oneof(nearIso, fc.string({ maxLength: 30 })), (text) => {
      const fast = fastIsoMillis(text);
      if (fast === -1) return;
      answered++;
      expect(fast).toBe(general(text));
    }), { numRuns: RUNS });
    expect(answered).toBeGreaterThan(RUNS / 20);
  });

  it('answers valid instants of both shapes across 1970..9999, leap days included', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (ms) => {
      const iso = new Date(ms).toISOString();
      expect(fastIsoMillis(iso)).toBe(ms);
      expect(fastIsoMillis(`${iso.slice(0, 19)}Z`)).toBe(ms - (ms % 1000));
    }), { numRuns: RUNS });
    expect(fastIsoMillis('2024-02-29T12:00:00Z')).toBe(Date.UTC(2024, 1, 29, 12));
    expect(fastIsoMillis('2023-02-29T12:00:00Z')).toBe(-1);
    expect(fastIsoMillis('2100-02-29T00:00:00.000Z')).toBe(-1);
    expect(fastIsoMillis('2000-02-29 00:00:00,5Z')).toBe(-1); // two fraction digits: the general parser's
  });

  it('without a zone (read in the schema\'s time_zone): the wall-clock fast path agrees with the general parser', () => {
    let answered = 0;
    const zoneless = nearIso.map((text) => text.replace(/(Z|z|\+00:00|Q)$/, ''));
    fc.assert(fc.property(fc.oneof(zoneless, fc.string({ maxLength: 30 })), fc.constantFrom('UTC', 'Europe/Oslo', 'America/New_York', 'Australia/Lord_Howe'), (text, zone) => {
      if (fastWallMillis(text, text.length) >= 0) answered++;
      let got: number | 'rejected';
      try {
        got = parseIsoTimestamp(text, 'ts', zone);
      } catch {
        got = 'rejected';
      }
      expect(got).toBe(general(text, zone));
    }), { numRuns: RUNS });
    expect(answered).toBeGreaterThan(RUNS / 20);
  });
});
