import { describe, expect, it } from 'vitest';
import { SinkPositions } from '../../store/sink-positions.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';

// The consumer's positions recorded past the markers after a sink's last write (store/sink-positions.ts),
// only while they say what the store holds, and only on from the sink's own last offset.
function setup() {
  const moved: [string, number, number, number][] = [];
  const store = {
    advanceSinkOffset: async (_g: string, m: { topic: string; partition: number; from: number; to: number }) => void moved.push([m.topic, m.partition, m.from, m.to]),
  } as unknown as SqlResultStore;
  const at = new Map<string, number>([['late:0', 9], ['late:1', 4], ['late:2', 3]]);
  const positions = new SinkPositions(store, 'g', ['late'], { owned: () => [0, 1, 2], next: (t, p) => at.get(`${t}:${p}`) }, 60_000);
  return { moved, positions, at };
}

describe('a sink\'s consumer positions in its store', () => {
  it('moves the store\'s offsets on from the sink\'s own (its start\'s, its writes\'), at most every interval, and at a clean stop', async () => {
    const { moved, positions, at } = setup();
    positions.started(new Map([['late', new Map([[1, 4]])]]));
    positions.wrote('late', 0, 7);
    await positions.record();
    // late:2: no offset of the sink's own to move on from (the store had none at its start, it wrote none).
    expect(moved).toEqual([['late', 0, 7, 9]]);
    at.set('late:1', 6);
    await positions.record();
    expect(moved).toHaveLength(1);
    await positions.record(true);
    expect(moved).toEqual([['late', 0, 7, 9], ['late', 1, 4, 6]]);
  });

  it('moves none once a batch was not written: a position would pass records the store lacks', async () => {
    const { moved, positions } = setup();
    positions.wrote('late', 0, 7);
    positions.unwritten();
    await positions.record(true);
    expect(moved).toEqual([]);
  });

  it('commits the group\'s offset where it moved the store\'s: a clean stop leaves the group at the store\'s offsets', async () => {
    const moved: string[] = [];
    const committed: string[] = [];
    const store = { advanceSinkOffset: async (_g: string, m: { topic: string; partition: number; to: number }) => void moved.push(`${m.topic}:${m.partition}@${m.to}`) } as unknown as SqlResultStore;
    const positions = new SinkPositions(store, 'g', ['late'], {
      owned: () => [0, 1], next: (_t, p) => (p === 0 ? 8 : 5),
      commit: async (t, p, next) => {
        if (p === 1) throw new Error('REBALANCE_IN_PROGRESS'); // handed away meanwhile: the store's offset still moved
        committed.push(`${t}:${p}@${next}`);
      },
    }, 60_000);
    positions.started(new Map([['late', new Map([[0, 7], [1, 4]])]]));
    await positions.record(true);
    expect(moved).toEqual(['late:0@8', 'late:1@5']);
    expect(committed).toEqual(['late:0@8']);
  });
});
