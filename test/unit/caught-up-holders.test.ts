import { describe, expect, it, vi } from 'vitest';

// The merge stage's bounded end (run --stop-when-idle) waits like a bounded worker (group-drain-holders.test.ts):
// past the session timeout + 5 s, partials partitions a bounded sibling's merge member still holds are waited
// for (killed in that wait's last seconds, its partitions were never merged: the last windows of a merged
// pipeline missing), an unbounded member's are left to it, named. The offsets come from a fake admin here.
vi.mock('../../stream/kafka/admin.ts', () => ({
  endOffsets: () => Promise.resolve(new Map([[0, 10], [1, 10]])),
  committedOffsets: () => Promise.resolve(new Map([[0, 10], [1, 3]])),
}));
const { CaughtUpWatch, REBALANCE_MARGIN_MS } = await import('../../stream/kafka/caught-up.ts');
const { sessionTimeoutMs } = await import('../../stream/kafka/consume-options.ts');
const WAIT = sessionTimeoutMs() + REBALANCE_MARGIN_MS;
const settings = { brokers: ['127.0.0.1:1'], clientId: 'caught-up-test' } as never;

function merge(bounded: boolean | undefined) {
  const watch = new CaughtUpWatch(settings, 1_000);
  watch.position('partials', 0, 10);
  const lines: string[] = [];
  const holders = bounded === undefined ? {} : { holders: () => Promise.resolve(new Map([[1, { name: 'worker w2', host: '127.0.0.1', bounded }]])) };
  const group = { groupId: 'g.merge', transactional: true, workerId: 'w1', log: (l: string) => lines.push(l), ...holders };
  return { finished: (now: number) => watch.finished('partials', [0], group, now), lines };
}

describe('CaughtUpWatch.finished with the holders of the other partitions', () => {
  it('waits past the session timeout for a bounded holder, saying so once', async () => {
    const m = merge(true);
    expect(await m.finished(0)).toBe(false);
    expect(await m.finished(WAIT)).toBe(false);
    expect(await m.finished(5 * WAIT)).toBe(false);
    expect(m.lines.filter((l) => l.includes('bounded (--stop-when-idle)'))).toEqual([
      'partitions [1] of partials are held by worker w2 (127.0.0.1), bounded (--stop-when-idle): waiting for it to finish them, or for the group to hand them here should it be gone',
    ]);
  });

  it('leaves an unbounded holder its partitions after the session timeout, naming it; without holders, as before', async () => {
    const m = merge(false);
    expect(await m.finished(0)).toBe(false);
    expect(await m.finished(WAIT)).toBe(true);
    expect(m.lines.at(-1)).toBe('partitions [1] of partials are still held by worker w2 (127.0.0.1) of group g.merge after its session timeout: a live member\'s, left to it');
    const plain = merge(undefined);
    expect(await plain.finished(0)).toBe(false);
    expect(await plain.finished(WAIT)).toBe(true);
    expect(plain.lines.at(-1)).toContain('still held by another member of group g.merge');
  });
});
