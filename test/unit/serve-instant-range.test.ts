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

  // A + typed into a URL query decodes to a space; "use an offset" told the user to do what they had done.
  it('an offset whose + became a space names the %2B to write, for from and to; %2B itself is that offset', () => {
    for (const q of [{ from: '2026-11-23T10:00:00 01:00', to: '2026-11-23T12:00:00Z' }, { from: '2026-11-23T09:00:00Z', to: '2026-11-23T10:00:00.5 0100' }]) {
      let thrown: unknown;
      try { parseRange(q, { end: null, defaultSpan: HOUR, maxSpan: DAY }); } catch (error) { thrown = error; }
      const parameter = q.from.includes(' ') ? 'from' : 'to';
      expect(thrown).toBeInstanceOf(ApiError);
      expect((thrown as ApiError).parameter).toBe(parameter);
      expect((thrown as ApiError).message).toBe(`${parameter}: the offset's + arrived as a space (a + in a URL query means a space): write it %2B (${q[parameter].replace(' ', '%2B')}) or use Z`);
    }
    expect(parseInstant('from', decodeURIComponent('2026-11-23T10:00:00%2B01:00'))).toBe(Date.parse('2026-11-23T09:00:00Z'));
  });
});
