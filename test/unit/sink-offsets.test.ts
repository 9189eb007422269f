import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../pipeline/errors.ts';
import { planSinkResume, resumeMessage } from '../../store/sink-offsets.ts';

const offsets = (o: Record<string, Record<number, number>>) => new Map(Object.entries(o).map(([t, ps]) => [t, new Map(Object.entries(ps).map(([p, n]) => [Number(p), n]))]));

// Where a sink group resumes against the offsets its store holds (store/sink-offsets.ts): the store's are
// the truth. test/integration/kafka-sink-restored-store.test.ts runs it over Kafka.
describe('a sink group against the offsets its store holds', () => {
  it('resumes a group that committed past the store (a restored backup) from the store\'s offsets, naming how much is read again', () => {
    const plan = planSinkResume('g', offsets({ results: { 0: 5, 1: 9 } }), offsets({ results: { 0: 8, 1: 9 } }), offsets({ results: { 0: 0, 1: 0 } }));
    expect(plan).toEqual({ seeks: [{ topic: 'results', partition: 0, from: 5, committed: 8 }], starting: undefined });
    expect(resumeMessage('g', plan.seeks)).toBe('sink: resuming sink group g from this store\'s offsets, not the group\'s: results:0 from 5, the group had read to 8 (3 offsets read and written again)');
  });

  it('resumes a group behind its store (a write committed before its offsets were) from the store, not writing those again', () => {
    const plan = planSinkResume('g', offsets({ results: { 0: 9 } }), offsets({ results: { 0: 8 } }), offsets({ results: { 0: 0 } }));
    expect(plan.seeks).toEqual([{ topic: 'results', partition: 0, from: 9, committed: 8 }]);
    expect(resumeMessage('g', plan.seeks)).toMatch(/results:0 from 9, the group had committed 8 \(1 offsets already in the store, not written again\)$/);
    expect(planSinkResume('g', offsets({ results: { 0: 8 } }), offsets({ results: { 0: 8 } }), offsets({ results: { 0: 0 } }))).toEqual({ seeks: [], starting: undefined });
  });

  it('moves nothing where the group has no offset and the store\'s is the log start (a partition never read: the group starts there)', () => {
    // A dead-letter partition with no record: the store recorded its log start, the group never committed.
    // Taken for a move, every sink joining its group's running sinks was refused, exit 2.
    expect(planSinkResume('g', offsets({ dlq: { 0: 0 }, late: { 0: 7 } }), offsets({ late: { 0: 7 } }), offsets({ dlq: { 0: 0 }, late: { 0: 0 } }))).toEqual({ seeks: [], starting: undefined });
    expect(planSinkResume('g', offsets({ dlq: { 0: 5 } }), offsets({}), offsets({ dlq: { 0: 0 } })).seeks).toEqual([{ topic: 'dlq', partition: 0, from: 5, committed: undefined }]);
  });

  it('refuses a store whose offset the topic no longer holds (retention deleted records it never had), saying what is lost and what to do', () => {
    const error = (() => { try { planSinkResume('g', offsets({ late: { 0: 4 } }), offsets({ late: { 0: 30 } }), offsets({ late: { 0: 12 } })); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).domain).toBe('user');
    expect((error as Error).message).toMatch(/^this store holds sink group g's reads to offsets the topics no longer hold: late:0 offsets 4 to 11 \(8 offsets\) were deleted by their retention .*--group g-rebuild; then reconcile the days of the lost records from the archive/);
  });

  it('takes a log start one past the store\'s offset for the commit marker it is, not a loss (a partition emptied by retention)', () => {
    expect(planSinkResume('g', offsets({ late: { 0: 4 } }), offsets({ late: { 0: 4 } }), offsets({ late: { 0: 5 } }))).toEqual({ seeks: [], starting: undefined });
    // The offsets alone cannot tell a marker from a record (docs/operations.md, "Recovering: the store was
    // lost"): one offset is always taken for a marker, two or more always for a loss, even when they were
    // two workers' markers or an aborted transaction (a sink killed before it recorded its consumer's
    // position past them: store/sink-positions.ts).
    expect(() => planSinkResume('g', offsets({ late: { 0: 4 } }), offsets({ late: { 0: 4 } }), offsets({ late: { 0: 6 } }))).toThrow(/late:0 offsets 4 to 5 \(2 offsets\)/);
  });

  it('does not judge a partition the store has no offset of, and returns it as the store\'s starting point: the group\'s offset, else the log start', () => {
    // A store the release before wrote: offsets only of the partitions written since the upgrade. Taken
    // for "held to 0", the late topic's partitions refused the same, whole store at its next start.
    const plan = planSinkResume('g', offsets({ results: { 0: 8 } }), offsets({ results: { 0: 8 }, late: { 0: 197, 1: 0 } }), offsets({ results: { 0: 0 }, late: { 0: 150, 1: 0, 2: 40 } }));
    expect(plan).toEqual({ seeks: [], starting: { groupId: 'g', next: offsets({ late: { 0: 197, 1: 0, 2: 40 } }) } });
  });
});
