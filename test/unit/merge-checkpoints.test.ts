import { describe, expect, it } from 'vitest';
import { uniqueVisitors5m } from '../../examples/seed.ts';
import { aggregateFunction } from '../../pipeline/aggregates.ts';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { MAX_KEY_CHARS, type OutRecord } from '../../stream/kafka/client.ts';
import { mergeCheckpointRecords, partKey, partsFit, readMergeCheckpoint, storedParts } from '../../stream/merge-checkpoints.ts';
import { PartialMergeStage, type PartialMergeSnapshot } from '../../stream/partial-merge.ts';

describe('merge checkpoint keys', () => {
  const head = 'g.merge|concord.partials.clicks|1';

  it('a part key is the head, the pipeline and a fixed-length hash of the id, whatever the id\'s length', () => {
    const short = partKey(head, 'uv', '1795392000000\u0000{}');
    const long = partKey(head, 'uv', `1795392000000\u0000${'x'.repeat(400_000)}`);
    expect(short.startsWith(`${head}|uv|`)).toBe(true);
    expect(long.length).toBe(short.length);
    expect(long.length).toBeLessThanOrEqual(MAX_KEY_CHARS);
    expect(partKey(head, 'uv', 'a')).not.toBe(partKey(head, 'uv', 'b'));
  });

  it('a prefix too long for the client to send as is falls back to whole checkpoints', () => {
    expect(partsFit(head, 'uv')).toBe(true);
    expect(partsFit(head, 'p'.repeat(MAX_KEY_CHARS))).toBe(false);
  });

  it('the parts of a pipeline are found by prefix, never those of another head or of a pipeline whose name extends it', () => {
    const stored = new Map<string, string>([
      [head, '{"head":true}'],
      [partKey(head, 'a', 'w1'), 'a1'],
      [partKey(head, 'a', 'w2'), 'a2'],
      [partKey(head, 'a|b', 'w1'), 'ab1'],
      [partKey(`${head}0`, 'a', 'w1'), 'other partition'],
      [partKey('g.merge|concord.partials.clicks|10', 'a', 'w1'), 'partition 10'],
    ]);
    expect(storedParts(stored, head, 'a').sort()).toEqual(['a1', 'a2']);
    expect(storedParts(stored, head, 'a|b')).toEqual(['ab1']);
  });

  it('records written over several transactions restore the stage, incremental or (a name too long for part keys) whole', () => {
    const def = uniqueVisitors5m() as WindowedPipeline;
    const fn = aggregateFunction(def.aggregates[0]!.aggregate, def.schema);
    const sketch = (visitor: string) => { const acc = fn.create(); fn.add(acc, { visitor_id: visitor }); return fn.serialize(acc); };
    for (const name of ['uv', 'p'.repeat(MAX_KEY_CHARS)]) {
      const stage = new PartialMergeStage(def, 2);
      const topic = new Map<string, string>();
      const commit = (records: OutRecord[]) => { for (const r of records) if (r.value === null) topic.delete(r.key!); else topic.set(r.key!, r.value); };
      const partial = (partition: number, minute: number, revision: number) =>
        stage.partial({ partition, windowStart: minute * 300_000, windowEnd: (minute + 1) * 300_000, key: {}, revision, accumulators: [sketch(`v${partition}-${minute}`)] });
      partial(0, 0, 0); partial(1, 0, 0); partial(0, 1, 0);
      stage.progress(0, 299_999); stage.progress(1, 299_999);
      stage.advance();
      commit(mergeCheckpointRecords('cp', head, 10, new Map([[name, stage]])).records);
      partial(1, 1, 0); partial(0, 2, 0);
      stage.progress(0, 700_000); stage.progress(1, 700_000);
      stage.advance(); // fires window 1 (2 stays open); window 0 is past the allowed lateness and dropped
      const written = mergeCheckpointRecords('cp', head, 20, new Map([[name, stage]]));
      commit(written.records);
      expect(written.bytes).toBeGreaterThan(0);
      const read = readMergeCheckpoint(topic, head);
      expect(read.next).toBe(20);
      const restored = new PartialMergeStage(def, 2);
      const [[pipeline, snap, parts]] = read.stages as [[string, PartialMergeSnapshot, string[]]];
      expect(pipeline).toBe(name);
      restored.restoreParts(snap, parts);
      const sorted = (x: PartialMergeSnapshot) => ({ ...x, windows: [...x.windows].sort((a, b) => a.start - b.start) });
      expect(sorted(restored.snapshot())).toEqual(sorted(stage.snapshot()));
      expect(stage.snapshot().windows.map((w) => [w.start, w.revision])).toEqual([[300_000, 0], [600_000, -1]]);
      expect(parts.length).toBe(name === 'uv' ? 2 : 0);
    }
    expect(readMergeCheckpoint(new Map(), head)).toEqual({ next: 0, stages: [] });
  });
});
