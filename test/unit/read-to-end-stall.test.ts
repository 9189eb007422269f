import { afterEach, describe, expect, it, vi } from 'vitest';

// A broker stand-in: one partition of 100 records the test hands out a fetch at a time, under a fake clock.
const fetches = vi.hoisted(() => ({ onBatch: undefined as undefined | ((b: unknown) => void), onPosition: undefined as undefined | ((p: unknown) => void) }));
vi.mock('../../stream/kafka/admin.ts', () => ({
  endOffsets: async () => new Map([[0, 100]]),
  deleteGroups: async () => undefined,
}));
vi.mock('../../stream/kafka/consumer.ts', () => ({
  BatchConsumer: {
    start: async (_s: unknown, o: { onBatch: (b: unknown) => void; onPosition: (p: unknown) => void }) => {
      fetches.onBatch = o.onBatch;
      fetches.onPosition = o.onPosition;
      return { stop: async () => undefined };
    },
  },
}));

const { READ_STALL_MS, readToEnd } = await import('../../stream/kafka/read-to-end.ts');

function fetch(from: number, to: number): void {
  const records = Array.from({ length: to - from }, (_, i) => ({ offset: from + i, key: `k${from + i}`, value: 'v', timestamp: 0 }));
  fetches.onBatch!({ topic: 'cp', partition: 0, records });
  fetches.onPosition!({ topic: 'cp', partition: 0, next: to });
}

afterEach(() => { vi.useRealTimers(); });

// A restart reads the whole checkpoints topic, its uncompacted tail included: a limit on the whole read
// failed every restore of a topic that takes longer than that to read, again at every retry.
describe('reading a topic to its end', () => {
  it('takes as long as it keeps getting further: ten fetches, each just under the stall limit apart', async () => {
    vi.useFakeTimers();
    const read = readToEnd({ brokers: ['b:1'], clientId: 't' }, 'cp');
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(READ_STALL_MS - 1_000);
      fetch(i * 10, i * 10 + 10);
    }
    const records = await read;
    expect(records).toHaveLength(100);
    expect(records.at(-1)?.offset).toBe(99);
  });

  it('fails, saying so, once a fetch brings nothing further for the stall limit', async () => {
    vi.useFakeTimers();
    const read = readToEnd({ brokers: ['b:1'], clientId: 't' }, 'cp');
    const failed = expect(read).rejects.toThrow(/reading cp to its end stopped getting further for 30 s \(partitions 0 incomplete\)/);
    await vi.advanceTimersByTimeAsync(0);
    fetch(0, 40);
    await vi.advanceTimersByTimeAsync(READ_STALL_MS);
    await failed;
  });
});
