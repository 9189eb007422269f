import { describe, expect, it } from 'vitest';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { SinkWatermarks } from '../../store/sink-watermarks.ts';
import { partitionReport } from '../../stream/watermark-reports.ts';

// The store sink's side of a bounded Kafka run (`run --stop-when-idle`): once every input partition of a
// pipeline reports drained, its W is written with where the input ended (store/input-ends.ts), so the
// nightly reconcile does not wait; an unbounded run never drains, and its W is written without.
const P = pageViewsPerMinute.name;
const version = definitionVersion(pageViewsPerMinute);
const report = (partition: number, watermark: number, drainedAt?: { group: string; next: number }) =>
  partitionReport('concord.watermarks', { pipeline: P, version, group: 'g', partition, partitions: 2, watermark, drained: drainedAt !== undefined, ...(drainedAt ? { drainedAt } : {}) }).value!;

function sink() {
  const writes: { w: number; ended?: { run: string; at: string } }[] = [];
  const s = new SinkWatermarks([pageViewsPerMinute], ['concord.results'], { ends: async () => new Map(), next: () => undefined, committed: async () => new Map() },
    async (_p, w, ended) => { writes.push({ w, ...(ended ? { ended } : {}) }); });
  return { s, writes };
}

describe('the store sink and a bounded Kafka run', () => {
  it('writes the input end once every partition drained, even when W does not move; a running report forgets it', async () => {
    const { s, writes } = sink();
    s.accept(report(0, 1_000), 'r0');
    s.accept(report(1, 2_000), 'r1');
    await s.settle();
    expect(writes).toEqual([{ w: 1_000 }]);
    s.accept(report(0, 1_000, { group: 'g', next: 40 }), 'd0');
    await s.settle();
    // One partition drained, the other runs: W is the running one's, no end.
    expect(writes).toEqual([{ w: 1_000 }, { w: 2_000 }]);
    s.accept(report(1, 2_000, { group: 'g', next: 57 }), 'd1');
    await s.settle();
    expect(writes).toEqual([{ w: 1_000 }, { w: 2_000 }, { w: 2_000, ended: { run: 'concord run --stop-when-idle (group g)', at: 'every input partition drained (0 to offset 40, 1 to offset 57)' } }]);
    // Written once.
    s.accept(report(1, 2_000, { group: 'g', next: 57 }), 'd1 again');
    await s.settle();
    expect(writes).toHaveLength(3);
    // A live run of the group reads on (not drained): W is written without an end (the store forgets it).
    s.accept(report(1, 3_000), 'live');
    await s.settle();
    expect(writes.at(-1)).toEqual({ w: 3_000 });
  });
});
