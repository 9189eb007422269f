import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimeGuard } from '../../pipeline/time-guard.ts';

const H = 3_600_000;

describe('TimeGuard', () => {
  it('a file: judged against the progress (largest accepted time); quarantined events do not advance it', () => {
    const g = new TimeGuard({ maxFutureSkewMs: H, pastHorizonMs: Infinity });
    expect(g.judge(10 * H)).toBeNull(); // the first event has no reference
    expect(g.judge(10 * H + 5)).toBeNull();
    expect(g.judge(1_000 * H)).toMatchObject({ reason: 'future_timestamp', reference: 10 * H + 5, basis: 'stream progress' });
    expect(g.judge(11 * H + 5)).toBeNull(); // exactly max_future_skew ahead: accepted
    expect(g.judge(12 * H + 6)).toMatchObject({ reason: 'future_timestamp', reference: 11 * H + 5 });
    expect(g.judge(0)).toBeNull(); // the past is the watermark's business unless past_horizon says otherwise
  });

  it('a Kafka record: judged against its own timestamp', () => {
    const g = new TimeGuard({ maxFutureSkewMs: H, pastHorizonMs: 24 * H });
    expect(g.judge(5 * H, 4 * H + 1)).toBeNull();
    expect(g.judge(5 * H, 4 * H - 1)).toMatchObject({ reason: 'future_timestamp', reference: 4 * H - 1, basis: 'record timestamp' });
    expect(g.judge(0, 30 * H)).toMatchObject({ reason: 'past_horizon', reference: 30 * H });
    expect(g.judge(0, -1)).toBeNull(); // no record timestamp (-1): the progress, and there is none yet
  });

  it('the verdicts follow the rule: the reference is the largest time accepted before, over random inputs', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1_000 * H }), { maxLength: 200 }), (times) => {
      const once = new TimeGuard({ maxFutureSkewMs: H, pastHorizonMs: Infinity });
      const verdicts = times.map((t) => once.judge(t)?.reason ?? 'ok');
      // An oracle of the rule: reference = max of the accepted times before.
      let max = -Infinity;
      const expected = times.map((t) => {
        if (Number.isFinite(max) && t - max > H) return 'future_timestamp';
        max = Math.max(max, t);
        return 'ok';
      });
      expect(verdicts).toEqual(expected);
    }));
  });
});
