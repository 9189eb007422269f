import { describe, expect, it } from 'vitest';
import { withTiming } from '../../pipeline/definition.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { CollectingEmitter, createOperator } from '../../stream/operators/index.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';

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

// docs/semantics.md, "Over Kafka", worked example: two partitions, B = 30 s, L = 60 s. Each partition's
// operator judges by its own W; windows fire by the minimum over the non-idle partitions (as a worker runs them).
describe('worked example: two partitions, each event judged by its own partition\'s W', () => {
  const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 30_000, allowedLateness: 60_000 });
  const partitions: [number, string][][] = [[[59_999, '/'], [150_000, '/'], [2_000, '/']], [[30_000, '/x'], [1_000, '/x']]];

  /** Run A reads partition 0, then 1; run B reads partition 1 only after partition 0 went idle. */
  function run(idleFirst: boolean) {
    const out = new CollectingEmitter();
    const firing = new WatermarkTracker(30_000);
    firing.addSources([{ source: 'p0', idle: false }, { source: 'p1', idle: false }]);
    const ops = [createOperator(def, out), createOperator(def, out)];
    const step = () => ops.forEach((op) => op.onWatermark(firing.current));
    if (idleFirst) firing.setIdle('p1', true);
    for (const p of [0, 1]) {
      partitions[p]!.forEach(([ts, url], offset) => {
        ops[p]!.process({ event_id: `p${p}-${offset}`, ts, url, visitor_id: 'v' }, { source: `p${p}`, offset });
        firing.advanceSource(`p${p}`, ops[p]!.watermark);
        step();
      });
    }
    ops.forEach((op) => op.finish());
    const rows = (out.results as WindowResult[]).map((r) => [r.key.url, r.windowStart, r.values.views, r.revision]);
    return { rows, late: out.lates.map((l) => [l.position.source, l.position.offset, l.watermark]) };
  }

  it('the late set is partition 0, offset 2 (met its own W 119 999) in both runs', () => {
    expect(run(false).late).toEqual([['p0', 2, 119_999]]);
    expect(run(true).late).toEqual([['p0', 2, 119_999]]);
  });

  it('run A fires everything at the end, once; run B shows /x [0, 60 s) at views 1 then 2; final values agree', () => {
    expect(run(false).rows).toEqual([['/', 0, 1, 0], ['/', 120_000, 1, 0], ['/x', 0, 2, 0]]);
    expect(run(true).rows).toEqual([['/', 0, 1, 0], ['/x', 0, 1, 0], ['/x', 0, 2, 1], ['/', 120_000, 1, 0]]);
  });
});
