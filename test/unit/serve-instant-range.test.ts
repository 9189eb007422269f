import { describe, expect, it } from 'vitest';
import { isoMillis } from '../../pipeline/time.ts';
import { ApiError, DAY, HOUR, parseInstant, parseRange } from '../../serve/params.ts';

// `?from=8639999999999999` (a valid JavaScript date) made `to` = from + 1 h, past the last date
// JavaScript has: formatting it threw a RangeError, a 500 "internal error" on /windows, /alerts and /top
// (and `top?window=8640000000000000` the same, window + 1 ms).
describe('API instants', () => {
  const edges = ['8640000000000000', '8639999999999999', '-8640000000000000', '-8639999999999999', '253402300800000', '-62167219200001', '+275760-09-13T00:00:00Z'];

  it('an instant outside the years 0000..9999 is a 400 naming its parameter', () => {
    for (const text of edges) {
      let thrown: unknown;
      try { parseInstant('from', text); } catch (error) { thrown = error; }
      expect(thrown, text).toBeInstanceOf(ApiError);
      expect((thrown as ApiError).status).toBe(400);
      expect((thrown as ApiError).parameter).toBe('from');
    }
    expect(parseInstant('from', '9999-12-31T23:59:59.999Z')).toBe(253402300799999);
    expect(parseInstant('from', '0000-01-01T00:00:00Z')).toBe(-62167219200000);
    expect(parseInstant('to', '1764000000000')).toBe(1764000000000);
  });

  it('every range built from accepted instants can be formatted', () => {
    const texts = [...edges, '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z', '253402300799999', '-62167219200000'];
    for (const from of [undefined, ...texts]) {
      for (const to of [undefined, ...texts]) {
        let range: { from: number; to: number } | undefined;
        try {
          range = parseRange({ ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }, { end: 1764000000000, defaultSpan: HOUR, maxSpan: 2 * DAY });
        } catch (error) {
          expect(error, `${from}..${to}`).toBeInstanceOf(ApiError);
          continue;
        }
        expect(() => [isoMillis(range!.from), isoMillis(range!.to)], `${from}..${to}`).not.toThrow();
      }
    }
  });
});
