import { describe, expect, it } from 'vitest';
import { withTiming } from '../../pipeline/definition.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { CollectingEmitter, createOperator } from '../../stream/operators/index.ts';
import type { WindowResult } from '../../schemas/results.ts';

// docs/semantics.md, worked example 1: B = 30 s, L = 60 s, arrival order 59 999, 90 000, 1 000, 150 000, 2 000.
describe('worked example: B = 30 s, L = 60 s', () => {
  const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 30_000, allowedLateness: 60_000 });
  const out = new CollectingEmitter();
  const op = createOperator(def, out);
  [59_999, 90_000, 1_000, 150_000, 2_000].forEach((ts, i) =>
    op.process({ event_id: `e${i}`, ts, url: '/', visitor_id: 'v' }, { source: 's', offset: i }),
  );
  op.finish();
  const rows = out.results as WindowResult[];

  it('window [0, 60 s) fires at W = 59 999, then updates to views = 2 at revision 1', () => {
    const first = rows.filter((r) => r.windowStart === 0);
    expect(first.map((r) => [r.values.views, r.revision, r.watermark])).toEqual([
      [1, 0, 59_999],
      [2, 1, 59_999],
    ]);
  });

  it('ts 2 000 is late: it meets W = 119 999 = end - 1 + L', () => {
    expect(out.lates).toHaveLength(1);
    expect(out.lates[0]).toMatchObject({ watermark: 119_999, windowStart: 0, windowEnd: 60_000 });
    expect(out.lates[0]!.event.event_id).toBe('e4');
  });

  it('the other windows fire once each; the last one at end of input', () => {
    expect(rows.filter((r) => r.windowStart !== 0).map((r) => [r.windowStart, r.values.views, r.revision, r.watermark])).toEqual([
      [60_000, 1, 0, 119_999],
      [120_000, 1, 0, Number.POSITIVE_INFINITY],
    ]);
  });
});
