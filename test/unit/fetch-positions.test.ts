import { describe, expect, it } from 'vitest';
import { FetchPositionGuard, type FetchRequestShape, type GuardedConsumer } from '../../stream/kafka/fetch-positions.ts';

type Callback = (error: Error | null, response: unknown) => void;

/** A consumer whose fetches are answered by the test, in any order. */
function fakeConsumer() {
  const pending: { options: FetchRequestShape; callback: Callback }[] = [];
  const consumer: GuardedConsumer = {
    generationId: 1,
    memberId: 'm1',
    fetch: (options, callback) => { pending.push({ options, callback }); },
  };
  return { consumer, pending };
}

const request = (offset: bigint | undefined): FetchRequestShape => ({ topics: [{ partitions: [{ fetchOffset: offset }] }] });
const response = (first: number, n: number) => ({
  responses: [{ partitions: [{ records: [{ records: Array.from({ length: n }, (_, i) => ({ offsetDelta: i, first })) }] }] }],
});
type Answer = { responses: { partitions: { records: { records: unknown[] }[] }[] }[] };

function send(consumer: GuardedConsumer, offset: bigint | undefined): Promise<Answer> {
  return new Promise((resolve) => consumer.fetch(request(offset), (_e, r) => resolve(r as Answer)));
}

describe('fetch positions across rebalances (stream/kafka/fetch-positions.ts)', () => {
  it('passes a response through under the same join, and discards what the stream buffered when a join comes', async () => {
    const { consumer, pending } = fakeConsumer();
    const guard = new FetchPositionGuard(consumer);
    const buffered = ['m1', 'm2', 'm3'];
    const positions = new Map([['t:0', 10n]]);
    guard.attach({ offsetsToFetch: positions, read: () => buffered.shift() ?? null });
    guard.joined();
    expect(buffered).toEqual([]);
    expect(positions.size).toBe(0);
    expect(guard.stats.discardedRecords).toBe(3);
    const answered = send(consumer, 10n);
    pending[0]!.callback(null, response(10, 3));
    expect((await answered).responses[0]!.partitions[0]!.records[0]!.records).toHaveLength(3);
  });

  it('reads a response to a fetch sent before the latest join as empty, and forgets every position at a join', async () => {
    const { consumer, pending } = fakeConsumer();
    const guard = new FetchPositionGuard(consumer);
    const positions = new Map([['t:0', 500n]]);
    guard.attach({ offsetsToFetch: positions, read: () => null });
    guard.joined();
    const stale = send(consumer, 500n);
    guard.joined(); // a rebalance while the fetch was in flight
    expect(positions.size).toBe(0);
    pending[0]!.callback(null, response(500, 4));
    expect((await stale).responses).toEqual([]);
    expect(guard.stats.staleResponses).toBe(1);
  });

  it('reads a response as empty when the generation or member changed after it was sent (before the join event)', async () => {
    const { consumer, pending } = fakeConsumer();
    const guard = new FetchPositionGuard(consumer);
    guard.joined();
    const stale = send(consumer, 7n);
    consumer.generationId = 2; // JoinGroup answered; the join event comes after SyncGroup
    pending[0]!.callback(null, response(7, 2));
    expect((await stale).responses).toEqual([]);
    const fresh = send(consumer, 7n);
    pending[1]!.callback(null, response(7, 2));
    expect((await fresh).responses).toHaveLength(1);
  });

  it('does not send a fetch without a position (between a join and the refresh): answered empty, unsent', async () => {
    const { consumer, pending } = fakeConsumer();
    const guard = new FetchPositionGuard(consumer);
    guard.joined();
    expect((await send(consumer, undefined)).responses).toEqual([]);
    expect(pending).toHaveLength(0);
    expect(guard.stats.unsentFetches).toBe(1);
  });
});
