import { describe, expect, it } from 'vitest';
import { GroupFencedError, KafkaClientError, type ConsumedOffsets, type OutRecord, type TransactionalProducer } from '../../stream/kafka/client.ts';
import { StepCounts } from '../../stream/step-counts.ts';
import { WorkerTransactions, type Committed } from '../../stream/worker-transactions.ts';

/** A producer whose commits the test settles one by one, in order. */
function fakeProducer() {
  const calls: { records: readonly OutRecord[]; settle: (outcome?: Error) => void }[] = [];
  const producer = {
    commit: (records: readonly OutRecord[], _offsets: ConsumedOffsets | null) => new Promise<void>((resolve, reject) => {
      calls.push({ records, settle: (outcome) => (outcome ? reject(outcome) : resolve()) });
    }),
    close: async () => undefined,
  };
  return { producer: producer as unknown as TransactionalProducer, calls };
}

const record = (value: string): OutRecord => ({ topic: 't', key: value, value });
const tick = () => new Promise((r) => setTimeout(r, 0));
/** What a step built besides its records: the window results' pipelines, and its counts (one event each). */
const work = (emitted: string[]) => {
  const counts = new StepCounts();
  counts.events = 1;
  return { emitted, counts };
};

function setUp() {
  const { producer, calls } = fakeProducer();
  const seen = { refused: [] as GroupFencedError[], failed: [] as unknown[], committed: [] as Committed[] };
  const tx = new WorkerTransactions(producer, {
    refused: (e) => seen.refused.push(e),
    failed: (e) => seen.failed.push(e),
    committed: (c) => seen.committed.push(c),
  });
  return { tx, calls, seen };
}

describe('WorkerTransactions', () => {
  it('commits one transaction at a time, in order: the next starts only once the one in flight is done', async () => {
    const { tx, calls, seen } = setUp();
    const first = tx.begin([record('a')], null, 0, work(['p']));
    const second = tx.begin([record('b')], null, 0, work([]));
    await tick();
    expect(calls.map((c) => c.records[0]!.value)).toEqual(['a']);
    calls[0]!.settle();
    expect(await first).toBe(true);
    await tick();
    expect(calls.map((c) => c.records[0]!.value)).toEqual(['a', 'b']);
    calls[1]!.settle();
    expect(await second).toBe(true);
    expect(await tx.settled()).toBe(true);
    expect(seen.committed.map((c) => c.emitted)).toEqual([['p'], []]);
  });

  it('after a refusal every later transaction is void (built on dropped state) until resume', async () => {
    const { tx, calls, seen } = setUp();
    const refused = tx.begin([record('a')], null, 0, work([]));
    const built = tx.begin([record('b')], null, 0, work([]));
    await tick();
    calls[0]!.settle(new GroupFencedError('refused', undefined, { memberKnown: true, generationId: 3 }));
    expect(await refused).toBe(false);
    expect(await built).toBe(false);
    expect(await tx.begin([record('c')], null, 0, work([]))).toBe(false);
    expect(calls).toHaveLength(1);
    expect(seen.refused.map((e) => [e.memberKnown, e.generationId])).toEqual([[true, 3]]);
    tx.resume();
    const again = tx.begin([record('d')], null, 0, work([]));
    await tick();
    calls[1]!.settle();
    expect(await again).toBe(true);
    expect(calls.map((c) => c.records[0]!.value)).toEqual(['a', 'd']);
    expect(seen.committed).toHaveLength(1);
  });

  it('any other failure is reported at once, even when nobody waits for the transaction', async () => {
    const { tx, calls, seen } = setUp();
    void tx.begin([record('a')], null, 0, work([]));
    await tick();
    calls[0]!.settle(new KafkaClientError('broker gone'));
    await tick();
    expect(seen.failed.map((e) => (e as Error).message)).toEqual(['broker gone']);
    await expect(tx.settled()).rejects.toThrow('broker gone');
    expect(seen.committed).toHaveLength(0);
  });
});
