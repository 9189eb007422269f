import { describe, expect, it } from 'vitest';
import { uniqueVisitors5m } from '../../examples/seed.ts';
import { aggregateFunction } from '../../pipeline/aggregates.ts';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { PartialMergeStage } from '../../stream/partial-merge.ts';

// A group's bounded run drains (every worker reports its partitions at +infinity, the merge fires every
// window), then more input comes and a second run of the group continues from the workers' checkpoints,
// which the drain never wrote: their partitions report the W they restored. The merge stage, restored
// from its own checkpoint taken after the drain, must merge the new windows: it held the drain's
// +infinity for good, and every later partial was past its allowed lateness (`concord run
// --stop-when-idle` twice over one group: unique_visitors_5m had no result for the second run's day).
const def = uniqueVisitors5m() as WindowedPipeline;
const fn = aggregateFunction(def.aggregates[0]!.aggregate, def.schema);
const FIVE_MIN = 300_000;
const sketch = (...visitors: string[]) => {
  const acc = fn.create();
  for (const v of visitors) fn.add(acc, { visitor_id: v });
  return fn.serialize(acc);
};
const partial = (stage: PartialMergeStage, partition: number, window: number, ...visitors: string[]) =>
  stage.partial({ partition, windowStart: window * FIVE_MIN, windowEnd: (window + 1) * FIVE_MIN, key: {}, revision: 0, accumulators: [sketch(...visitors)] });
const visitors = (results: WindowResult[]) => results.map((r) => [r.windowStart / FIVE_MIN, r.values.visitors]);

function restored(stage: PartialMergeStage): PartialMergeStage {
  const { head, parts } = stage.checkpoint();
  const next = new PartialMergeStage(def, 2);
  next.restoreParts(head, parts.flatMap(([, json]) => (json === null ? [] : [json])));
  return next;
}

describe('windowed merge stage: a group run again after a bounded run drained it', () => {
  it('merges the second run\'s windows from the W each partition restored', () => {
    const first = new PartialMergeStage(def, 2);
    partial(first, 0, 0, 'a');
    partial(first, 1, 0, 'b');
    first.progress(0, 100_000);
    first.progress(1, 100_000);
    expect(first.advance()).toEqual([]);
    // The drain: both partitions at +infinity, window 0 fires.
    first.progress(0, Number.POSITIVE_INFINITY);
    first.progress(1, Number.POSITIVE_INFINITY);
    expect(visitors(first.advance())).toEqual([[0, 2]]);

    // The second run: each worker restored its partition's last checkpoint (W 100 000, before the drain).
    const second = restored(first);
    second.progress(0, 100_000);
    partial(second, 0, 10, 'c');
    second.progress(0, 11 * FIVE_MIN);
    // Partition 1 has not reported since the drain: it holds the W back, window 10 waits for its partial.
    expect(second.advance()).toEqual([]);
    partial(second, 1, 10, 'd', 'e');
    second.progress(1, 11 * FIVE_MIN);
    expect(visitors(second.advance())).toEqual([[10, 3]]);
    expect(second.watermark).toBe(11 * FIVE_MIN);
  });

  it('a partition handed to another worker mid-run, after it drained, holds back only itself', () => {
    const stage = new PartialMergeStage(def, 2);
    stage.progress(0, Number.POSITIVE_INFINITY); // drained
    stage.progress(1, 100_000); // not drained yet
    expect(stage.advance()).toEqual([]);
    // Partition 0 restored elsewhere from its checkpoint and read on: partition 1 keeps its W.
    stage.progress(0, 200_000);
    partial(stage, 1, 0, 'a');
    stage.progress(1, FIVE_MIN);
    expect(stage.advance()).toEqual([]);
    stage.progress(0, FIVE_MIN);
    expect(visitors(stage.advance())).toEqual([[0, 1]]);
  });

  // Two workers: partition 1's fired window 0 before its last checkpoint, partition 0's had it open. The
  // drain fires window 0 from both; the next run restores partition 0 with window 0 open, reads more of
  // it and fires it again (at the same revision, with more input), while partition 1 never sends it
  // again. The merge must combine partition 0's new partial with partition 1's kept one (dropping every
  // window at the drain gave partition 0's share alone, replacing the right total).
  it('a window fired again by one partition after the drain merges with the other partitions\' partials kept from before it', () => {
    const first = new PartialMergeStage(def, 2);
    partial(first, 1, 0, 'b');
    first.progress(1, 2 * FIVE_MIN);
    first.progress(0, 100_000);
    expect(first.advance()).toEqual([]);
    partial(first, 0, 0, 'a');
    first.progress(0, Number.POSITIVE_INFINITY);
    first.progress(1, Number.POSITIVE_INFINITY);
    expect(visitors(first.advance())).toEqual([[0, 2]]);

    const second = restored(first);
    second.progress(0, 100_000);
    second.progress(1, 2 * FIVE_MIN);
    expect(second.advance()).toEqual([]);
    partial(second, 0, 0, 'a', 'c');
    second.progress(0, 2 * FIVE_MIN);
    expect(visitors(second.advance())).toEqual([[0, 3]]);
  });
});
