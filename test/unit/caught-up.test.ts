import { describe, expect, it } from 'vitest';
import { CaughtUpWatch } from '../../stream/kafka/caught-up.ts';

// The end-offset comparison needs a broker (kafka-transactional-input.test.ts); this checks the positions
// it compares and the quiet time.
const settings = { brokers: ['127.0.0.1:1'], clientId: 'caught-up-test' } as never;

describe('CaughtUpWatch', () => {
  it('keeps the furthest position per partition; forgetting one partition leaves the others', () => {
    const watch = new CaughtUpWatch(settings);
    watch.position('t', 0, 10);
    watch.position('t', 0, 7); // a fetch position reported late never moves it back
    watch.position('t', 1, 3);
    expect([watch.next('t', 0), watch.next('t', 1), watch.next('u', 0)]).toEqual([10, 3, undefined]);
    watch.forget('t', 0);
    expect([watch.next('t', 0), watch.next('t', 1)]).toEqual([undefined, 3]);
    watch.position('t', 0, 4); // handed back at an earlier offset
    expect(watch.next('t', 0)).toBe(4);
    watch.forget();
    expect([watch.next('t', 0), watch.next('t', 1)]).toEqual([undefined, undefined]);
  });

  it('is quiet only after the quiet time without records, and never without one', () => {
    const bounded = new CaughtUpWatch(settings, 1_000);
    bounded.heard(5_000);
    expect([bounded.quiet(5_999), bounded.quiet(6_000), bounded.silentMs(6_500)]).toEqual([false, true, 1_500]);
    const unbounded = new CaughtUpWatch(settings);
    unbounded.heard(0);
    expect(unbounded.quiet(1e12)).toBe(false);
  });
});
