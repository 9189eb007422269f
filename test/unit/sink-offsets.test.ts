import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../pipeline/errors.ts';
import { refuseStoreBehindGroup } from '../../store/sink-offsets.ts';

const offsets = (o: Record<string, Record<number, number>>) => new Map(Object.entries(o).map(([t, ps]) => [t, new Map(Object.entries(ps).map(([p, n]) => [Number(p), n]))]));

// The store's record of how far a sink group's reads are in it (store/sink-offsets.ts), against what the
// group committed. test/integration/kafka-sink-restored-store.test.ts runs it over Kafka.
describe('a sink group against the offsets its store holds', () => {
  it('refuses a group that committed past the store (a restored backup), naming each partition', async () => {
    const error = await refuseStoreBehindGroup('g', async () => offsets({ results: { 0: 5, 1: 9 } }), offsets({ results: { 0: 8, 1: 9 } })).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).domain).toBe('user');
    expect((error as Error).message).toMatch(/^this store holds sink group g's reads of results:0 to 5 \(the group committed 8\): it is older than its group .* --group g-rebuild /);
  });

  it('passes a store as far as its group, or further (a write committed before its offsets were)', async () => {
    expect(await refuseStoreBehindGroup('g', async () => offsets({ results: { 0: 8 } }), offsets({ results: { 0: 8 } }))).toBeUndefined();
    expect(await refuseStoreBehindGroup('g', async () => offsets({ results: { 0: 9 } }), offsets({ results: { 0: 8 } }))).toBeUndefined();
  });

  it('does not judge a partition the store has no offset of, and returns it as the store\'s starting point', async () => {
    // A store the release before wrote: offsets only of the partitions written since the upgrade. Taken
    // for "held to 0", the late topic's partitions refused the same, whole store at its next start.
    const starting = await refuseStoreBehindGroup('g', async () => offsets({ results: { 0: 8 } }), offsets({ results: { 0: 8 }, late: { 0: 197, 1: 0 } }));
    expect(starting).toEqual({ groupId: 'g', next: offsets({ late: { 0: 197 } }) });
  });

  it('asks the store nothing for a group that committed nothing', async () => {
    const never = async (): Promise<never> => { throw new Error('asked'); };
    expect(await refuseStoreBehindGroup('g', never, offsets({ results: { 0: 0 } }))).toBeUndefined();
  });
});
