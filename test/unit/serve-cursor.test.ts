import { describe, expect, it } from 'vitest';
import { ApiError, decodeCursor, encodeCursor, isCellCursor } from '../../serve/params.ts';

// A cursor is opaque but comes from the client: `[9e99, "x"]` (finite, not a window start) was taken
// and reached SQL as a BIGINT parameter PostgreSQL and DuckDB cannot hold: a 500 on /windows and /compare.
describe('cell cursors', () => {
  it('a window start that is not a whole number of milliseconds within 2^53 is not a cursor this API returned (400)', () => {
    for (const forged of [[9e99, 'x'], [-1e300, 'x'], [1.5, 'x'], [2 ** 53, 'x'], ['1', 'x'], [1, 2], [1]]) {
      let thrown: unknown;
      try { decodeCursor('cursor', encodeCursor(forged), isCellCursor); } catch (error) { thrown = error; }
      expect(thrown, JSON.stringify(forged)).toBeInstanceOf(ApiError);
      expect((thrown as ApiError).status).toBe(400);
    }
  });

  it('the cursors the API returns decode as they were', () => {
    for (const c of [[1_764_000_000_000, 'cell'], [0, ''], [-86_400_000, '{"k":"v"}']] as [number, string][]) expect(decodeCursor('cursor', encodeCursor(c), isCellCursor)).toEqual(c);
  });
});
