import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry } from '../../examples/seed.ts';
import type { AlertResult, ResultRecord } from '../../schemas/results.ts';
import type { OutRecord } from '../../stream/kafka/client.ts';
import { mergeCheckpointRecords, readMergeCheckpoint } from '../../stream/merge-checkpoints.ts';
import type { ForwardedEvent } from '../../stream/rule-merge.ts';
import { RuleMergeStage } from '../../stream/rule-merge.ts';
import type { RuleMergeSnapshot } from '../../stream/rule-merge-checkpoint.ts';
import {
  mergeCheckpointRecords as mergeCheckpointRecords1202aee,
  readMergeCheckpoint as readMergeCheckpoint1202aee,
} from '../fixtures/release-1202aee/stream/merge-checkpoints.ts';
import { RuleMergeStage as RuleMergeStage1202aee } from '../fixtures/release-1202aee/stream/rule-merge.ts';

// A rolling upgrade from release 1202aee, the merge stage of a rule keyed across partitions (its held
// events are parts in both releases; this release also keeps the operator's keys in parts). The stage's
// partials partition is handed around a mixed group after batches: 1202aee's own code (vendored),
// this release under --upgrade-from 1202aee, and this release without it (never followed by 1202aee
// directly). 1202aee's decoder must restore every checkpoint written under the flag, the key parts a newer
// checkpoint left must be gone (1202aee takes every part under the pipeline for a held event), and the
// alerts must be those of a stage never stopped.
const def = fraudMultiCountry({ threshold: 1 });
const at = (min: number) => Date.parse('2026-12-01T10:00:00Z') + min * 60_000;
const txn = (id: string, min: number, user: string, country: string) => ({ txn_id: id, ts: at(min), user_id: user, country, amount: 1000, currency: 'EUR', merchant: 'm' });
const HEAD = 'g.merge|concord.partials.transactions.g|0';
const EVENTS = 40;

type Release = 'old' | 'flagged' | 'new';
type Topic = Map<string, string>;
/** What the test asks of a stage of either release. */
interface Stage {
  event(e: ForwardedEvent): void;
  progress(partition: number, sourceWatermark: number, idle: boolean): void;
  advance(): ResultRecord[];
  snapshot(): RuleMergeSnapshot;
}
interface Holder { release: Release; stage: Stage }

const commit = (topic: Topic, records: readonly OutRecord[]) => { for (const r of records) if (r.value === null) topic.delete(r.key!); else topic.set(r.key!, r.value); };

function restore(release: Release, topic: Topic): Holder {
  if (release === 'old') {
    const stage = new RuleMergeStage1202aee(def, 'txns', 2);
    for (const [, head, parts] of readMergeCheckpoint1202aee(topic, HEAD).stages) stage.restoreParts(head as never, parts);
    return { release, stage };
  }
  const stage = new RuleMergeStage(def, 'txns', 2);
  for (const [, head, parts] of readMergeCheckpoint(topic, HEAD).stages) stage.restoreParts(head as RuleMergeSnapshot, parts);
  return { release, stage };
}

function checkpoint(holder: Holder, next: number): OutRecord[] {
  const { release, stage } = holder;
  if (release === 'old') return mergeCheckpointRecords1202aee('cp', HEAD, next, new Map([[def.name, stage as RuleMergeStage1202aee]])).records;
  const current = stage as RuleMergeStage;
  if (release === 'new') return mergeCheckpointRecords('cp', HEAD, next, new Map([[def.name, current]])).records;
  const flagged = { snapshot: () => current.snapshot(), checkpoint: () => current.checkpoint('1202aee') };
  return mergeCheckpointRecords('cp', HEAD, next, new Map([[def.name, flagged]]), '1202aee').records;
}

type UserWire = { key: string; lastDroppedSatisfied: boolean; kept: [ts: number, id: string, value: unknown, seq: number, decided: boolean, satisfied: boolean][] };

/**
 * The stage's whole state in a fixed order (a restore rebuilds keys and held events in stored order).
 * What a release forgets by its sweep is left out: decided events no decision within L sees any more
 * (ts <= W - L - span), folded into the key's last dropped status as a sweep would. 1202aee swept at
 * whichever W came, this release at whole spans of W (stream/operators/lookback-rule.ts), so the two
 * forget the same events at different steps; what a decision within L sees is the same.
 */
function stateOf(stage: Stage): unknown {
  const snap = stage.snapshot();
  const state = snap.operator.state as { users: UserWire[]; lastSweep?: number | null };
  const horizon = (snap.operator.watermark.combined ?? Number.NEGATIVE_INFINITY) - def.allowedLateness - def.rule.span;
  const users = state.users.flatMap((u) => {
    let n = 0;
    while (n < u.kept.length && u.kept[n]![0] <= horizon && u.kept[n]![4]) n++;
    const lastDroppedSatisfied = n > 0 ? u.kept[n - 1]![5] : u.lastDroppedSatisfied;
    const kept = u.kept.slice(n);
    return kept.length === 0 && !lastDroppedSatisfied ? [] : [{ ...u, kept, lastDroppedSatisfied }];
  });
  const { lastSweep: _, ...rest } = state;
  return {
    ...snap,
    held: [...(snap.held ?? [])].sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    operator: { ...snap.operator, state: { ...rest, users: users.sort((a, b) => (a.key < b.key ? -1 : 1)) } },
  };
}

/** A key every 4 events, in 4 countries (an alert at each key's second), over both partitions; some held at each batch's end. */
function feed(stage: Stage, from: number, to: number): AlertResult[] {
  for (let i = from; i < to; i++) {
    stage.event({ partition: i % 2, offset: i, verdictWatermark: Number.NEGATIVE_INFINITY, sourceWatermark: at(i) - 30_001, event: txn(`t${i}`, i, `u${Math.floor(i / 4)}`, ['PT', 'ES', 'FR', 'DE'][i % 4]!) });
    stage.progress(i % 2, at(i) - 30_001, false);
  }
  return stage.advance() as AlertResult[];
}

const scheduleArb = fc.array(fc.record({ release: fc.constantFrom<Release>('old', 'flagged', 'new'), handover: fc.boolean(), size: fc.integer({ min: 1, max: 7 }) }), { minLength: 1, maxLength: 10 });

describe('--upgrade-from 1202aee: the merge stage of a rule in a group of mixed releases', () => {
  it('1202aee\'s decoder restores every checkpoint written under it to the writer\'s state; alerts as a stage never stopped', () => {
    const uninterrupted = new RuleMergeStage(def, 'txns', 2);
    const expected = feed(uninterrupted, 0, EVENTS);
    expect(expected.length).toBeGreaterThan(5);
    let sawNewThenFlagged = 0;
    fc.assert(
      fc.property(scheduleArb, (schedule) => {
        const topic: Topic = new Map();
        const got: AlertResult[] = [];
        let holder: Holder | undefined;
        let lastWriter: Release | undefined;
        for (let next = 0, k = 0; next < EVENTS; k++) {
          const step = schedule[k % schedule.length]!;
          const release = step.release === 'old' && lastWriter === 'new' ? 'flagged' : step.release;
          if (holder === undefined || step.handover || holder.release !== release) holder = restore(release, topic);
          const to = Math.min(next + step.size, EVENTS);
          got.push(...feed(holder.stage, next, to));
          next = to;
          commit(topic, checkpoint(holder, next));
          if (release === 'flagged' && lastWriter === 'new') sawNewThenFlagged++;
          lastWriter = release;
          if (release !== 'flagged') continue;
          expect(JSON.parse(topic.get(HEAD)!)).not.toHaveProperty('format');
          // Every part left is a held event (an array), as 1202aee wrote them.
          expect([...topic].filter(([key, value]) => key !== HEAD && !value.startsWith('['))).toEqual([]);
          expect(stateOf(restore('old', topic).stage)).toEqual(stateOf(holder.stage));
        }
        expect(got).toEqual(expected);
        expect(stateOf(holder!.stage)).toEqual(stateOf(uninterrupted));
      }),
      { numRuns: 200 },
    );
    // The case the deletions are for: a flagged stage over the key parts a stage without the flag wrote.
    expect(sawNewThenFlagged).toBeGreaterThan(20);
  });
});
