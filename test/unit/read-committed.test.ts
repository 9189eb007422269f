import { describe, expect, it } from 'vitest';
import { dropAbortedBatches, dropAbortedRecords, type FetchedBatch } from '../../stream/kafka/read-committed.ts';

// Record batches as the library parses them: transactional data, and control markers (key: version, type).
const TX = 1 << 4, CONTROL = 1 << 5;
const marker = (type: 0 | 1) => { const key = Buffer.alloc(4); key.writeInt16BE(type, 2); return key; };
function data(producer: number, first: number, n: number, transactional = true): FetchedBatch {
  return { firstOffset: BigInt(first), lastOffsetDelta: n - 1, producerId: BigInt(producer), attributes: transactional ? TX : 0, records: Array.from({ length: n }, () => ({ key: null })) };
}
function control(producer: number, offset: number, type: 0 | 1): FetchedBatch {
  return { firstOffset: BigInt(offset), lastOffsetDelta: 0, producerId: BigInt(producer), attributes: TX | CONTROL, records: [{ key: marker(type) }] };
}
const kept = (batches: FetchedBatch[]) => batches.filter((b) => !(b.attributes & CONTROL) && b.records.length > 0).map((b) => Number(b.firstOffset));

describe('read_committed filtering of one partition\'s fetched batches (Kafka consumer rule)', () => {
  it('empties an aborted transaction\'s batches even when its abort marker is not in the response', () => {
    const batches = [data(7, 0, 2), data(7, 2, 3), data(8, 5, 1, false)];
    expect(dropAbortedBatches({ abortedTransactions: [{ producerId: 7n, firstOffset: 0n }], records: batches })).toBe(2);
    expect(kept(batches)).toEqual([5]);
    // Emptied, not removed: the library still moves its position past them.
    expect(batches.map((b) => Number(b.firstOffset))).toEqual([0, 2, 5]);
  });

  it('keeps a producer\'s committed transactions before and after an aborted one, and other producers\' data', () => {
    const batches = [data(7, 0, 2), control(7, 2, 1), data(7, 3, 2), data(9, 5, 1), control(7, 6, 0), data(7, 7, 2), control(7, 9, 1)];
    expect(dropAbortedBatches({ abortedTransactions: [{ producerId: 7n, firstOffset: 3n }], records: batches })).toBe(1);
    expect(kept(batches)).toEqual([0, 5, 7]);
  });

  it('handles two aborted transactions of one producer in one response (the library kept only the last)', () => {
    const batches = [data(7, 0, 2), control(7, 2, 0), data(7, 3, 1), control(7, 4, 1), data(7, 5, 2), control(7, 7, 0)];
    dropAbortedBatches({ abortedTransactions: [{ producerId: 7n, firstOffset: 5n }, { producerId: 7n, firstOffset: 0n }], records: batches });
    expect(kept(batches)).toEqual([3]);
  });

  // The checkpoints partition of a failed determinism run (DumpLogSegments-style, offsets as in the log): a
  // restarted worker keeps its producer id, and the next restart's epoch bump wrote an abort marker with no
  // records. The library's own filter read "aborted from 4 to the producer's last abort marker (24)" and
  // dropped the committed checkpoint at 18.
  it('keeps a committed transaction between a producer\'s aborted one and a later empty abort marker', () => {
    const batches = [data(7, 4, 1), data(8, 5, 1), control(7, 7, 0), control(8, 8, 0), data(9, 9, 2), control(9, 15, 1),
      data(7, 18, 1), data(8, 20, 1), control(7, 22, 1), control(8, 23, 0), control(7, 24, 0)];
    const response = { responses: [{ partitions: [{ abortedTransactions: [{ producerId: 7n, firstOffset: 4n }, { producerId: 8n, firstOffset: 5n }, { producerId: 8n, firstOffset: 20n }], records: batches }] }] };
    expect(dropAbortedRecords(response)).toBe(3);
    expect(kept(batches)).toEqual([9, 18]);
    // Consumed: the library's filter, which runs after this one, finds no aborted transaction to misapply.
    expect(response.responses[0]!.partitions[0]!.abortedTransactions).toEqual([]);
  });

  it('leaves everything when nothing was aborted, and non-transactional batches of an aborted producer id', () => {
    const batches = [data(7, 0, 2), data(7, 2, 1, false)];
    expect(dropAbortedBatches({ abortedTransactions: null, records: batches })).toBe(0);
    expect(dropAbortedBatches({ abortedTransactions: [{ producerId: 7n, firstOffset: 0n }], records: batches })).toBe(1);
    expect(kept(batches)).toEqual([2]);
  });
});
