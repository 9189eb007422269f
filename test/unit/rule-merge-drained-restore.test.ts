import { describe, expect, it } from 'vitest';
import { fraudMultiCountry } from '../../examples/seed.ts';
import type { AlertResult } from '../../schemas/results.ts';
import { RuleMergeStage } from '../../stream/rule-merge.ts';

// A rule's merge stage restored from a checkpoint taken after some partitions' workers drained (their
// W reported as +infinity): those partitions must stay drained. A run with two workers does exactly
// this: the first worker drains its partitions and leaves, the other member takes its merge partition
// over from the checkpoint, and the last alerts of the day must still be decided once the other
// partitions drain (they used to restore at -infinity and hold the merged W for good).
const def = fraudMultiCountry({ threshold: 1 });
const at = (min: number) => Date.parse('2026-12-01T10:00:00Z') + min * 60_000;
const txn = (id: string, min: number, country: string) => ({ txn_id: id, ts: at(min), user_id: 'u1', country, amount: 1000, currency: 'EUR', merchant: 'm' });

function restored(stage: RuleMergeStage): RuleMergeStage {
  const { head, parts } = stage.checkpoint();
  const next = new RuleMergeStage(def, 'txns', 2);
  next.restoreParts(head, parts.flatMap(([, json]) => (json === null ? [] : [json])));
  return next;
}

describe('rule merge stage: a drained partition survives a restore', () => {
  it('decides the held events once the remaining partitions drain after the restore', () => {
    const stage = new RuleMergeStage(def, 'txns', 2);
    // Partition 0: one event, then its worker drains (W = +infinity) and the checkpoint is taken.
    stage.event({ partition: 0, offset: 0, verdictWatermark: Number.NEGATIVE_INFINITY, sourceWatermark: Number.NEGATIVE_INFINITY, event: txn('a', 0, 'PT') });
    stage.progress(0, Number.POSITIVE_INFINITY, false);
    // Partition 1: an event the merge cannot decide yet (partition 1's own W is behind it).
    stage.event({ partition: 1, offset: 0, verdictWatermark: Number.NEGATIVE_INFINITY, sourceWatermark: Number.NEGATIVE_INFINITY, event: txn('b', 1, 'ES') });
    stage.progress(1, at(1) - 30_001, false);
    expect(stage.advance()).toEqual([]);
    const next = restored(stage);
    expect(next.watermark).toBe(at(1) - 30_001);
    // Partition 1's worker drains too: every held event is decided.
    next.progress(1, Number.POSITIVE_INFINITY, false);
    const alerts = next.advance() as AlertResult[];
    expect(next.watermark).toBe(Number.POSITIVE_INFINITY);
    expect(alerts.map((a) => [a.id, a.value])).toEqual([['b', ['ES', 'PT']]]);
  });
});
