import { describe, expect, it } from 'vitest';
import { fraudMultiCountry } from '../../examples/seed.ts';
import type { AlertResult } from '../../schemas/results.ts';
import type { OutRecord } from '../../stream/kafka/client.ts';
import { mergeCheckpointRecords, partKey, readMergeCheckpoint } from '../../stream/merge-checkpoints.ts';
import { CollectingEmitter, createOperator } from '../../stream/operators/index.ts';
import { RuleMergeStage } from '../../stream/rule-merge.ts';
import type { RuleMergeSnapshot } from '../../stream/rule-merge-checkpoint.ts';

// The merge stage's rule keeps its operator's keys in parts (format 2 of the merge checkpoint). A head of
// the release before (no format, the operator whole in it, held events in parts) must still restore, and
// the checkpoints after it must restore to the same state; a release before refuses the new head instead
// of restoring a rule that holds no key; a newer format is refused.
const def = fraudMultiCountry({ threshold: 1 });
const at = (min: number) => Date.parse('2026-12-01T10:00:00Z') + min * 60_000;
const txn = (id: string, min: number, user: string, country: string) => ({ txn_id: id, ts: at(min), user_id: user, country, amount: 1000, currency: 'EUR', merchant: 'm' });
const HEAD = 'g.merge|concord.partials.transactions.g|0';

type Topic = Map<string, string>;
const commit = (topic: Topic, records: readonly OutRecord[]) => { for (const r of records) if (r.value === null) topic.delete(r.key!); else topic.set(r.key!, r.value); };

function restore(topic: Topic): RuleMergeStage {
  const read = readMergeCheckpoint(topic, HEAD);
  const stage = new RuleMergeStage(def, 'txns', 2);
  for (const [, head, parts] of read.stages) stage.restoreParts(head as RuleMergeSnapshot, parts);
  return stage;
}

/** The stage's whole state in a fixed order (a restore rebuilds keys and held events in stored order). */
function stateOf(stage: RuleMergeStage): unknown {
  const snap = stage.snapshot();
  const state = snap.operator.state as { users: { key: string }[] };
  return {
    ...snap,
    held: [...(snap.held ?? [])].sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    operator: { ...snap.operator, state: { ...state, users: [...state.users].sort((a, b) => (a.key < b.key ? -1 : 1)) } },
  };
}

/** A key every 4 events, in 4 countries (an alert at each key's second), over both partitions; some held at the end. */
function feed(stage: RuleMergeStage, from: number, to: number): AlertResult[] {
  for (let i = from; i < to; i++) {
    stage.event({ partition: i % 2, offset: i, verdictWatermark: Number.NEGATIVE_INFINITY, sourceWatermark: at(i) - 30_001, event: txn(`t${i}`, i, `u${Math.floor(i / 4)}`, ['PT', 'ES', 'FR', 'DE'][i % 4]!) });
    stage.progress(i % 2, at(i) - 30_001, false);
  }
  return stage.advance() as AlertResult[];
}

describe('merge checkpoints of a rule: the operator\'s keys in parts', () => {
  it('restores a checkpoint of the release before (the operator whole in the head), and the incremental ones after it', () => {
    const uninterrupted = new RuleMergeStage(def, 'txns', 2);
    feed(uninterrupted, 0, 8);
    // The release before wrote the stage's head without a format, the operator whole in it, and its held
    // events as parts (it had no key parts).
    const before = new RuleMergeStage(def, 'txns', 2);
    feed(before, 0, 8);
    const { head, parts } = before.checkpoint();
    const held = parts.filter(([id]) => /^\d+:\d+$/.test(id));
    expect(held.length).toBeGreaterThan(0);
    const topic: Topic = new Map(held.map(([id, json]) => [partKey(HEAD, def.name, id), json!]));
    topic.set(HEAD, JSON.stringify({ next: 8, stages: { [def.name]: { ...head, operator: before.snapshot().operator } } }));

    let stage = restore(topic);
    expect(stateOf(stage)).toEqual(stateOf(uninterrupted));
    // The first checkpoint after it writes every key as a part: restored from it, the same state.
    const first = mergeCheckpointRecords('cp', HEAD, 8, new Map([[def.name, stage]]));
    const keys = (uninterrupted.snapshot().operator.state as { users: unknown[] }).users.length;
    expect(keys).toBeGreaterThan(0);
    expect(first.records.filter((r) => r.value?.startsWith('{"key"')).length).toBe(keys);
    commit(topic, first.records);
    expect(JSON.parse(topic.get(HEAD)!)).toMatchObject({ format: 2 });
    expect(stateOf(restore(topic))).toEqual(stateOf(uninterrupted));
    // Carry on, restored from the incremental records after every batch: the uninterrupted run's alerts and state.
    const expected = feed(uninterrupted, 8, 20);
    const got: AlertResult[] = [];
    for (let i = 8; i < 20; i += 3) {
      got.push(...feed(stage, i, Math.min(i + 3, 20)));
      commit(topic, mergeCheckpointRecords('cp', HEAD, i + 3, new Map([[def.name, stage]])).records);
      stage = restore(topic);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(got).toEqual(expected);
    expect(stateOf(stage)).toEqual(stateOf(uninterrupted));
  });

  it('a release before refuses the new head: its operator\'s definition is not the version', () => {
    const stage = new RuleMergeStage(def, 'txns', 2);
    feed(stage, 0, 6);
    const { head } = stage.checkpoint();
    // What a release before does with the head: the stage's definition passes, the operator's refuses.
    expect(() => createOperator(def, new CollectingEmitter(), { restore: head.operator })).toThrow(/keys in parts: written by a newer Concord; use a new --group/);
    expect((head.operator.state as { users: unknown[] }).users).toEqual([]);
  });

  it('refuses a merge checkpoint of a newer format', () => {
    const topic: Topic = new Map([[HEAD, JSON.stringify({ format: 3, next: 1, stages: {} })]]);
    expect(() => readMergeCheckpoint(topic, HEAD)).toThrow(/written by a newer Concord \(format 3\); use a new --group/);
  });
});
