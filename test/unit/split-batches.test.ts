import { describe, expect, it } from 'vitest';
import { splitBatches } from '../../stream/kafka/delivered-batches.ts';
import type { InBatch } from '../../stream/kafka/client.ts';

const generation = { groupId: 'g', memberId: 'm', generationId: 1, coordinatorId: 0 };
const batch = (partition: number, from: number, count: number, next?: number): InBatch => ({
  topic: 't', partition, generation, records: Array.from({ length: count }, (_, i) => ({ offset: from + i, key: null, value: String(from + i), timestamp: 0 })),
  ...(next !== undefined ? { next } : {}),
});

describe('splitBatches (stream/kafka/delivered-batches.ts)', () => {
  it('cuts each partition\'s batch into pieces of at most max records, in order; the fetched position goes with the last piece', () => {
    const out = splitBatches([batch(0, 0, 5, 6), batch(1, 10, 2)], 2);
    expect(out.map((b) => [b.partition, b.records.map((r) => r.offset), b.next])).toEqual([
      [0, [0, 1], undefined], [0, [2, 3], undefined], [0, [4], 6], [1, [10, 11], undefined],
    ]);
  });

  it('without a maximum, or a marker batch without records, leaves the batches as they are', () => {
    const batches = [batch(0, 0, 5), batch(1, 0, 0, 3)];
    expect(splitBatches(batches, undefined)).toBe(batches);
    expect(splitBatches(batches, 2).at(-1)).toBe(batches[1]);
  });
});
