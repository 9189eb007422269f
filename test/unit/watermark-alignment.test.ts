import { describe, expect, it } from 'vitest';
import { partitionsAhead, watermarkSpread, type AlignedPartition } from '../../stream/watermark-alignment.ts';

const MIN = 60_000;
const part = (partition: number, watermarks: number[], o: Partial<AlignedPartition> = {}): AlignedPartition => ({ partition, watermarks, idle: false, unread: true, ...o });

describe('watermark alignment', () => {
  it('pauses the partitions more than the drift ahead of the slowest one still reading, never the slowest', () => {
    const parts = [part(0, [10 * MIN]), part(1, [14 * MIN]), part(2, [16 * MIN]), part(3, [25 * MIN])];
    expect(partitionsAhead(parts, 5 * MIN)).toEqual([2, 3]);
    expect(partitionsAhead(parts, 20 * MIN)).toEqual([]);
  });

  it('a partition read to its end or idle holds nothing back; with none reading nothing is paused', () => {
    const parts = [part(0, [10 * MIN], { unread: false }), part(1, [14 * MIN]), part(2, [30 * MIN]), part(3, [0], { idle: true })];
    expect(partitionsAhead(parts, 5 * MIN)).toEqual([2]);
    // An idle partition is never paused, even far ahead.
    expect(partitionsAhead([part(0, [0]), part(1, [60 * MIN], { idle: true })], MIN)).toEqual([]);
    expect(partitionsAhead([part(0, [0], { unread: false }), part(1, [60 * MIN], { unread: false })], MIN)).toEqual([]);
  });

  it('a reading partition with no event yet (W = -infinity) holds every other one', () => {
    const parts = [part(0, [Number.NEGATIVE_INFINITY]), part(1, [5 * MIN]), part(2, [Number.NEGATIVE_INFINITY])];
    expect(partitionsAhead(parts, 10 * MIN)).toEqual([1]);
  });

  it('any pipeline ahead pauses the partition (pipelines may have different B)', () => {
    const parts = [part(0, [10 * MIN, 10 * MIN]), part(1, [12 * MIN, 19 * MIN])];
    expect(partitionsAhead(parts, 5 * MIN)).toEqual([1]);
  });

  it('the spread is the largest gap between finite own W of partitions not idle', () => {
    expect(watermarkSpread([part(0, [10 * MIN]), part(1, [14 * MIN]), part(2, [99 * MIN], { idle: true }), part(3, [Number.NEGATIVE_INFINITY])])).toBe(4 * MIN);
    expect(watermarkSpread([part(0, [10 * MIN])])).toBe(0);
    expect(watermarkSpread([])).toBe(0);
  });
});
