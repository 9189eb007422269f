import { describe, expect, it } from 'vitest';
import { pageViewsPerMinute, uniqueVisitors5m as visitors } from '../../examples/seed.ts';
import type { OutRecord } from '../../stream/kafka/client.ts';
import { groupsCountsSince, storedGroupsCounts } from '../../stream/group-counts.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { CollectingEmitter } from '../../stream/operators/operator.ts';
import { CHECKPOINT_FORMAT, partitionCheckpointRecords, readPartitionCheckpoints, storedPartitionCounts } from '../../stream/partition-checkpoint.ts';
import { countDeadLetter } from '../../stream/rejection-reasons.ts';
import { countsSince, emptyPartitionCounts, type PartitionCounts } from '../../stream/step-counts.ts';

// A partition's committed counts travel in its checkpoint (stream/step-counts.ts, PartitionCounts): read
// back as written, 0 from a checkpoint written before they were, and what `run --workers N` says of a
// run is what they grew by between its start and its end.
const uniqueVisitors5m = visitors();
const pipelines = [pageViewsPerMinute, uniqueVisitors5m];
const HEAD = 'g|t|0';

/** The record's dead letters and events, counted as a worker's admission counts them. */
function count(into: PartitionCounts, lines: readonly string[]): void {
  lines.forEach((line, offset) => {
    if (line.startsWith('{')) {
      into.events++;
      return;
    }
    const field = line.startsWith('no ') ? line.slice(3) : null;
    countDeadLetter(into, { source: 't:0', offset, field, reason: field === null ? `malformed JSON: ${line}` : `${field}: is required`, raw: line });
  });
  if (lines.length > 2) {
    into.late += 2;
    into.latePerPipeline.page_views_per_minute = (into.latePerPipeline.page_views_per_minute ?? 0) + 2;
    into.lateWindowSkips += 3;
  }
}

function stored(counts: PartitionCounts | undefined, next = 7): Map<string, string> {
  const operators = pipelines.map((def) => createOperator(def, new CollectingEmitter()));
  const records: OutRecord[] = partitionCheckpointRecords('cp', HEAD, pipelines, { operators, next, idle: false, ...(counts ? { counts } : {}) });
  return new Map(records.flatMap((r) => (r.value === null ? [] : [[r.key!, r.value] as [string, string]])));
}

describe('a partition\'s committed counts in its checkpoint', () => {
  it('are read back as written (dead letters per reason too), from the first pipeline\'s record only', () => {
    const counts = emptyPartitionCounts();
    count(counts, ['{}', 'no user', 'x,y', 'no user', '{}', 'no url']);
    const map = stored(counts);
    const { counts: restored } = readPartitionCheckpoints(map, HEAD, pipelines, 't:0');
    expect(restored).toEqual({ ...counts, firstRejection: null });
    expect(storedPartitionCounts(map, HEAD, pipelines.map((p) => p.name))).toEqual(restored);
    const [first, second] = pipelines.map((def) => JSON.parse(map.get(`${HEAD}|${def.name}`)!) as Record<string, unknown>);
    expect(first!.counts).toBeDefined();
    expect(second!.counts).toBeUndefined();
  });

  it('a checkpoint written before them (no counts) restores as before, counting from 0; one with them keeps its format and other fields', () => {
    const counts = emptyPartitionCounts();
    count(counts, ['{}', 'no user']);
    const without = stored(undefined);
    const { counts: zero, next } = readPartitionCheckpoints(without, HEAD, pipelines, 't:0');
    expect(next).toBe(7);
    expect(zero).toEqual(emptyPartitionCounts());
    const withCounts = JSON.parse(stored(counts).get(`${HEAD}|${pipelines[0]!.name}`)!) as Record<string, unknown>;
    expect(withCounts.format).toBe(CHECKPOINT_FORMAT);
    const { counts: _, ...rest } = withCounts;
    expect(rest).toEqual(JSON.parse(without.get(`${HEAD}|${pipelines[0]!.name}`)!));
  });

  it('what they grew by between two checkpoints is what was counted in between, per reason too', () => {
    const earlier = ['{}', 'no user', 'x,y', '{}'];
    const later = ['no user', 'no url', '{}', 'a;b', '{}'];
    const cumulative = emptyPartitionCounts();
    count(cumulative, earlier);
    const before = readPartitionCheckpoints(stored(cumulative), HEAD, pipelines, 't:0').counts;
    count(cumulative, later);
    const after = readPartitionCheckpoints(stored(cumulative), HEAD, pipelines, 't:0').counts;
    const alone = emptyPartitionCounts();
    count(alone, later);
    const since = countsSince(after, before);
    // Per reason in any order: the groups are kept in the order first met since the partition's start.
    const reasons = (c: PartitionCounts) => [...c.rejectionReasons].map(([k, g]) => [k, g.count, g.reasons?.size]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect({ ...since, rejectionReasons: reasons(since) }).toEqual({ ...alone, firstRejection: null, rejectionReasons: reasons(alone) });
  });

  it('a run\'s counts over partitions: each partition\'s growth, one never checkpointed before counted whole', () => {
    const p0 = emptyPartitionCounts();
    count(p0, ['{}', '{}', 'x']);
    const beforeRun = [new Map([[0, readPartitionCheckpoints(stored(p0), HEAD, pipelines, 't:0').counts]])];
    count(p0, ['{}', 'no user', '{}']);
    const p1 = emptyPartitionCounts();
    count(p1, ['{}', 'y']);
    const afterRun = [new Map([[0, p0], [1, p1]])];
    const [run] = groupsCountsSince(afterRun, beforeRun);
    expect({ events: run!.events, deadLetters: run!.deadLetters, late: run!.late, skips: run!.lateWindowSkips }).toEqual({ events: 2 + 1, deadLetters: 1 + 1, late: 2, skips: 3 });
  });

  it('a group\'s partitions are found by their records, another group\'s and another topic\'s left out', () => {
    const counts = emptyPartitionCounts();
    count(counts, ['{}', 'x', '{}']);
    const at = (head: string, c: PartitionCounts) => [...stored(c)].map(([k, v]) => [k.replace(HEAD, head), v] as [string, string]);
    const other = emptyPartitionCounts();
    count(other, ['{}']);
    const map = new Map([...at('g|t|0', counts), ...at('g|t|3', counts), ...at('g2|t|1', other), ...at('g|t2|1', other)]);
    const names = pipelines.map((p) => p.name);
    const [g, g2] = storedGroupsCounts(map, [{ schema: 's', group: 'g', topic: 't', pipelines: names }, { schema: 's', group: 'g2', topic: 't', pipelines: names }]);
    expect([...g!.keys()].sort()).toEqual([0, 3]);
    expect(g!.get(3)!.events).toBe(counts.events);
    expect([...g2!.keys()]).toEqual([1]);
    expect(g2!.get(1)!.events).toBe(other.events);
  });
});
