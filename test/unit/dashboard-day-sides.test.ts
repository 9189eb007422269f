import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { daySides } from '../../serve/dashboard/day-sides.js';

// The day view's "realtime and batch" chart drew an empty "realtime (version 0)" line on a day the stream
// never wrote (backfilled into), and the stream's line twice, the second labelled "batch", on a day no
// reconciliation corrected. A day's pipeline entry as /api/days/D answers it decides which lines are drawn.
const version = (n: number, defs: Record<string, number>) => ({ version: n, definition_versions: defs });
const DAY = '2026-11-20';

describe('the sides of a day the day view charts', () => {
  it('streamed and reconciled under one definition: both lines, nothing to add', () => {
    expect(daySides(DAY, { live_version: 1, versions: [version(0, { a: 96 }), version(1, { a: 96 })], reconciliation: { status: 'published' } }))
      .toEqual({ realtime: true, batch: true, missing: null, definitions: null });
  });

  it('backfilled (no version 0): the batch line alone, and why', () => {
    expect(daySides(DAY, { live_version: 1, versions: [version(1, { a: 24 })], reconciliation: null })).toEqual({
      realtime: false, batch: true, missing: `no realtime line: the stream never wrote ${DAY} (the day was backfilled from the archive)`, definitions: null,
    });
    expect(daySides(DAY, { live_version: 1, stream_reached: false, versions: [version(1, { a: 24 })], reconciliation: null }).missing)
      .toBe(`no realtime line: the stream has not reached ${DAY} (the day was backfilled from the archive)`);
  });

  it('not reconciled, or a reconciliation that published nothing: the realtime line alone, and why', () => {
    const streamed = { live_version: 0, versions: [version(0, { a: 96 })] };
    expect(daySides(DAY, { ...streamed, reconciliation: null })).toMatchObject({ realtime: true, batch: false, missing: 'no batch line: no reconciled version yet' });
    expect(daySides(DAY, { ...streamed, reconciliation: { status: 'failed_unexplained' } })).toMatchObject({ realtime: true, batch: false, missing: 'no batch line: the reconciliation published nothing' });
    expect(daySides(DAY, { live_version: 0, versions: [version(0, { a: 96 }), version(1, { a: 96 })], reconciliation: { status: 'published' } }))
      .toMatchObject({ realtime: true, batch: false, missing: 'no batch line: version 0 is live again (a revert)' });
  });

  it('streamed under one definition, recomputed under a changed one: says the lines are of different definitions', () => {
    expect(daySides(DAY, { live_version: 2, versions: [version(0, { a: 90, b: 6 }), version(1, { a: 96 }), version(2, { c: 96 })], reconciliation: null }).definitions)
      .toBe('the two lines were computed by different definitions (version 0: a + b; version 2: c)');
  });
});
