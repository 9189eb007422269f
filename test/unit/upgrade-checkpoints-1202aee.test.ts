import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { resultToJson } from '../../schemas/results.ts';
import { validateEvent, type AnyEvent } from '../../schemas/schema.ts';
import { CollectingEmitter, createOperator, type StreamOperator } from '../../stream/operators/index.ts';
import { CHECKPOINT_FORMAT, partitionCheckpointRecords, readPartitionCheckpoints } from '../../stream/partition-checkpoint.ts';

// An upgrade from release 1202aee: its workers' checkpoints (format 2, every operator whole) as that
// release wrote them, after the first `split` events of each schema (test/fixtures/checkpoints-1202aee.json,
// made by running 1202aee's own operators and partitionCheckpointRecords over the events below). This
// release restores them and reads on: the results and late events must be those of a run of this
// release never stopped, and its next checkpoint (format 3) must restore to the same state.
interface Fixture {
  split: number;
  events_sha256: string;
  records: Record<'clicks' | 'transactions', { key: string; value: string }[]>;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/checkpoints-1202aee.json', import.meta.url), 'utf8')) as Fixture;
const HEAD = 'g|t|0';
const SOURCE = 't:0';

/** The events the fixture's checkpoints were taken over (the generator 1202aee's side ran). */
function events(): { clicks: Record<string, unknown>[]; transactions: Record<string, unknown>[] } {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const T = Date.UTC(2026, 11, 1, 10);
  const clicks: Record<string, unknown>[] = [];
  for (let i = 0; i < 240; i++) {
    const late = rand() < 0.05 ? 400_000 : 0;
    clicks.push({ event_id: `c${i}`, ts: new Date(T + i * 2_500 - Math.floor(rand() * 20_000) - late).toISOString(), url: `/p${Math.floor(rand() * 3)}`, visitor_id: `v${Math.floor(rand() * 20)}` });
  }
  const transactions: Record<string, unknown>[] = [];
  const countries = ['US', 'FR', 'DE', 'BR', 'JP'];
  for (let i = 0; i < 240; i++) {
    const late = rand() < 0.05 ? 900_000 : 0;
    transactions.push({ txn_id: `t${i}`, ts: new Date(T + i * 7_000 - Math.floor(rand() * 20_000) - late).toISOString(), user_id: `u${Math.floor(rand() * 5)}`, country: countries[Math.floor(rand() * (i % 3 === 0 ? 5 : 2))], amount: '9.99' });
  }
  return { clicks, transactions };
}

const outputs = (out: CollectingEmitter) => ({ results: out.results.map(resultToJson), lates: out.lates.map((l) => [l.event, l.watermark]) });

function feed(defs: readonly PipelineDefinition[], ops: readonly StreamOperator[], raw: readonly Record<string, unknown>[], first: number): void {
  raw.forEach((e, j) => ops.forEach((op, i) => op.process(validateEvent(defs[i]!.schema, e) as AnyEvent, { source: SOURCE, offset: first + j })));
}

function restore(defs: readonly PipelineDefinition[], stored: ReadonlyMap<string, string>, out: CollectingEmitter): { ops: StreamOperator[]; next: number } {
  const { checkpoints, parts, next } = readPartitionCheckpoints(stored, HEAD, defs, SOURCE);
  return { ops: defs.map((def, i) => createOperator(def, out, { restore: checkpoints[i]!.operator, restoreParts: parts[i]! })), next };
}

describe('upgrade from 1202aee: its worker checkpoints', () => {
  const all = events();

  it('are taken over the events this test generates', () => {
    expect(createHash('sha256').update(JSON.stringify(all)).digest('hex')).toBe(fixture.events_sha256);
  });

  for (const [schema, defs] of [['clicks', [pageViewsPerMinute, uniqueVisitors5m()]], ['transactions', [fraudMultiCountry()]]] as const) {
    it(`${schema}: restored and read on, give the results and late events of a run never stopped; the next checkpoint is format 3 and restores the same state`, () => {
      const raw = all[schema];
      const uninterrupted = new CollectingEmitter();
      const ops = defs.map((def) => createOperator(def, uninterrupted));
      feed(defs, ops, raw.slice(0, fixture.split), 0);
      const atSplit = { results: uninterrupted.results.length, lates: uninterrupted.lates.length };
      feed(defs, ops, raw.slice(fixture.split), fixture.split);
      ops.forEach((op) => op.finish());
      expect(uninterrupted.results.length).toBeGreaterThan(atSplit.results); // the restored part has work to do
      expect(uninterrupted.lates.length).toBeGreaterThan(atSplit.lates);

      const stored = new Map(fixture.records[schema].map((r) => [r.key, r.value]));
      expect([...stored.values()].map((v) => (JSON.parse(v) as { format: number }).format)).toEqual(defs.map(() => 2));
      const out = new CollectingEmitter();
      out.results.push(...uninterrupted.results.slice(0, atSplit.results));
      out.lates.push(...uninterrupted.lates.slice(0, atSplit.lates));
      const restored = restore(defs, stored, out);
      expect(restored.next).toBe(fixture.split);
      feed(defs, restored.ops, raw.slice(fixture.split, 200), fixture.split);

      // The first checkpoint after the upgrade, over the old records (compacted: the latest per key).
      for (const r of partitionCheckpointRecords('cp', HEAD, defs, { operators: restored.ops, next: 200, idle: false })) {
        if (r.value === null) stored.delete(r.key!);
        else stored.set(r.key!, r.value);
      }
      expect((JSON.parse(stored.get(`${HEAD}|${defs[0]!.name}`)!) as { format: number }).format).toBe(CHECKPOINT_FORMAT);
      const again = restore(defs, stored, new CollectingEmitter());
      expect(again.next).toBe(200);
      expect(again.ops.map((op) => op.snapshot())).toEqual(restored.ops.map((op) => op.snapshot()));

      feed(defs, restored.ops, raw.slice(200), 200);
      restored.ops.forEach((op) => op.finish());
      expect(outputs(out)).toEqual(outputs(uninterrupted));
    });
  }
});
