import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimeGuard } from '../../pipeline/time-guard.ts';

const H = 3_600_000;
const NOW = Date.parse('2026-12-02T06:00:00Z');

describe('TimeGuard', () => {
  it('a file: judged against the wall clock when read; history, gaps and backfills pass', () => {
    const g = new TimeGuard({ maxFutureSkewMs: H, pastHorizonMs: Infinity }, () => NOW);
    expect(g.judge(Date.parse('2100-01-01T00:00:00Z'))).toMatchObject({ reason: 'future_timestamp', reference: NOW, basis: 'wall clock' });
    expect(g.judge(NOW + H)).toBeNull(); // exactly max_future_skew ahead: accepted
    expect(g.judge(NOW + H + 1)).toMatchObject({ reason: 'future_timestamp' });
    // A quiet night between two events of an old day: no reason to hold the second.
    expect(g.judge(Date.parse('2026-11-23T01:00:00Z'))).toBeNull();
    expect(g.judge(Date.parse('2026-11-23T09:00:00Z'))).toBeNull();
    expect(g.judge(0)).toBeNull(); // the past is the watermark's business unless past_horizon says otherwise
  });

  it('a Kafka record: judged against its own timestamp; past_horizon', () => {
    const g = new TimeGuard({ maxFutureSkewMs: H, pastHorizonMs: 24 * H }, () => NOW);
    expect(g.judge(5 * H, 4 * H + 1)).toBeNull();
    expect(g.judge(5 * H, 4 * H - 1)).toMatchObject({ reason: 'future_timestamp', reference: 4 * H - 1, basis: 'record timestamp' });
    expect(g.judge(0, 30 * H)).toMatchObject({ reason: 'past_horizon', reference: 30 * H });
    expect(g.judge(NOW - 2 * H, -1)).toBeNull(); // no record timestamp (-1): the wall clock
  });

  it('the rule over random times: held exactly when more than the skew ahead of (or the horizon behind) the reference', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.option(fc.integer({ min: 1, max: 2 ** 45 }), { nil: undefined }), (ts, record) => {
      const g = new TimeGuard({ maxFutureSkewMs: H, pastHorizonMs: 100 * H }, () => NOW);
      const ref = record ?? NOW;
      const expected = ts - ref > H ? 'future_timestamp' : ref - ts > 100 * H ? 'past_horizon' : 'ok';
      expect(g.judge(ts, record)?.reason ?? 'ok').toBe(expected);
    }));
  });
});
