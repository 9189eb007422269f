import { describe, expect, it } from 'vitest';
import { GroupDrain } from '../../stream/group-drain.ts';
import { REBALANCE_MARGIN_MS, kafkaSettings, sessionTimeoutMs } from '../../stream/kafka/client.ts';
import { workerClientId, type PartitionHolder } from '../../stream/kafka/group-members.ts';

// Scaling a group in (session 32): a bounded worker (`run --stop-when-idle`) that drained its own partitions
// waited a session timeout + 5 s for the rest, then judged their holder live and exited 0 ("a live
// member's, left to it"). The holder, SIGKILLed 13 s into that wait, was gone 2 s later: its partitions
// were never drained (one unique_visitors_5m window never fired). A bounded holder is now waited for as
// long as it holds them (it drains them, or dies and the group hands them over); only a holder that does
// not end by itself is left its partitions, and the line names it and says how to finish the group's run.
const WAIT = sessionTimeoutMs() + REBALANCE_MARGIN_MS;

/** A GroupDrain whose drain reports leave `open` not drained and whose group has the `holders` given. */
function drainWith(open: number[], holders: () => Promise<Map<number, PartitionHolder>>) {
  const lines: string[] = [];
  const drain = new GroupDrain({
    settings: kafkaSettings('unused'), watermarks: 'unused', groupId: 'g', topic: 'clicks', pipelines: [], log: (l) => lines.push(l), holders,
  });
  drain.drained = () => Promise.resolve({ drained: new Set([0, 1, 2, 3, 4, 5].filter((p) => !open.includes(p))), open });
  return { drain, lines };
}

const w3 = (bounded: boolean): PartitionHolder => ({ name: 'worker w3', host: '10.0.0.5', bounded });

describe('GroupDrain: whose partitions a bounded worker waits for', () => {
  it('keeps waiting past the session timeout while a bounded member holds them, and says so once', async () => {
    const { drain, lines } = drainWith([0, 2, 4], () => Promise.resolve(new Map([0, 2, 4].map((p) => [p, w3(true)]))));
    expect(await drain.finished(true, 0)).toBe(false);
    expect(await drain.finished(true, WAIT)).toBe(false);
    expect(await drain.finished(true, 10 * WAIT)).toBe(false);
    expect(lines.filter((l) => l.includes('bounded (--stop-when-idle): waiting for its drain'))).toEqual([
      'partitions [0, 2, 4] of clicks are held by worker w3 (10.0.0.5), bounded (--stop-when-idle): waiting for its drain, or for the group to hand them here should it be gone',
    ]);
  });

  it('leaves an unbounded member its partitions after the session timeout, naming it and what finishes them', async () => {
    const { drain, lines } = drainWith([0, 2, 4], () => Promise.resolve(new Map([0, 2, 4].map((p) => [p, w3(false)]))));
    expect(await drain.finished(true, 0)).toBe(false);
    expect(await drain.finished(true, WAIT - 1)).toBe(false);
    expect(await drain.finished(true, WAIT)).toBe(true);
    expect(lines.at(-1)).toMatch(/^partitions \[0, 2, 4\] of clicks are still held by worker w3 \(10\.0\.0\.5\) of group g after its session timeout.*without --stop-when-idle, left to it.*stop it with SIGTERM, then run `concord run --stop-when-idle` again/);
  });

  it('ends as before when the group coordinator cannot say who holds them', async () => {
    const { drain, lines } = drainWith([1], () => Promise.reject(new Error('coordinator not available')));
    expect(await drain.finished(true, 0)).toBe(false);
    expect(await drain.finished(true, WAIT)).toBe(true);
    expect(lines.at(-1)).toContain('still held by another member of group g');
  });

  it('a bounded worker\'s client id says it is bounded; an unbounded one\'s is the one it always had', () => {
    expect(workerClientId('w1', false)).toBe('concord-run-w1');
    expect(workerClientId('w1', true)).not.toBe(workerClientId('w1', false));
  });
});

describe('GroupDrain mid-rebalance', () => {
  it('partitions the coordinator already gives this worker are waited for, not left to "another member"', async () => {
    const lines: string[] = [];
    const drain = new GroupDrain({
      settings: kafkaSettings('unused'), watermarks: 'unused', groupId: 'g', topic: 'clicks', pipelines: [], workerId: 'w1', log: (l) => lines.push(l),
      holders: () => Promise.resolve(new Map([[1, { name: 'worker w1', host: '127.0.0.1', bounded: false }]])),
    });
    drain.drained = () => Promise.resolve({ drained: new Set([0]), open: [1] });
    expect(await drain.finished(true, 0)).toBe(false);
    expect(await drain.finished(true, WAIT)).toBe(false);
    expect(lines.join('\n')).not.toMatch(/left to it|held by worker w1/);
  });
});

// Found by kafka-worker-group-drain's SIGKILL case: B killed, the group rebalanced, and DescribeGroups
// answered with no member holding B's partitions (assignments are cleared until the next sync). A read
// that as "held by another member ... left to it" and exited 0 with B's partitions never drained.
describe('GroupDrain while the group rebalances', () => {
  it('partitions in no member\'s assignment are waited for (the next assignment hands them on), not left', async () => {
    const { drain, lines } = drainWith([0, 2], () => Promise.resolve(new Map([[1, w3(false)]])));
    expect(await drain.finished(true, 0)).toBe(false);
    expect(await drain.finished(true, WAIT)).toBe(false);
    expect(await drain.finished(true, 10 * WAIT)).toBe(false);
    expect(lines.join('\n')).not.toMatch(/left to it/);
  });
});
