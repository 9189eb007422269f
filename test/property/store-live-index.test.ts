import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An embedded DuckDB store writes the stream's rows through what its one writer remembers (LiveIndex:
// plain inserts and updates, no lookups). This runs random write sequences — replays, stale and higher
// revisions, two days, sealing, a reconcile, a revert, a restart, an index small enough to evict — on a
// store with that path and on one created with keyed tables (the ON CONFLICT path), and asks the same
// questions of both after every step.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(20, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 5));

const P = pageViewsPerMinute.name;
const V = definitionVersion(pageViewsPerMinute);
const DAY_MS = 86_400_000;
// Three minutes before midnight: the windows span two days.
const T0 = Date.UTC(2026, 10, 23) + DAY_MS - 3 * 60_000;
const DAYS = ['2026-11-23', '2026-11-24'];

function win(minute: number, url: string, views: number, revision: number): WindowResult {
  const start = T0 + minute * 60_000;
  return { kind: 'window', pipeline: P, windowStart: start, windowEnd: start + 60_000, key: { url }, values: { views }, revision, watermark: start + 60_000, definitionVersion: V };
}

type Step =
  | { op: 'write'; rows: [number, string, number, number][]; watermark: number | null }
  | { op: 'publish'; day: number }
  | { op: 'revert'; day: number }
  | { op: 'reopen' };

const rowArb = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom('/a', '/b', '/c'), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 3 }));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), rows: fc.array(rowArb, { maxLength: 8 }), watermark: fc.option(fc.integer({ min: 0, max: 3 * 24 * 60 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('publish' as const), day: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('revert' as const), day: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const) }) },
);

/** A DuckDB file whose result tables carry the primary keys of the earlier layout (the keyed path). */
async function keyedFile(path: string): Promise<void> {
  const cols = `pipeline TEXT NOT NULL, generation INTEGER NOT NULL, window_start BIGINT NOT NULL, cell TEXT NOT NULL,
      day TEXT NOT NULL, kind TEXT NOT NULL, window_end BIGINT, key_json TEXT NOT NULL, values_json TEXT NOT NULL,
      revision INTEGER NOT NULL, provenance TEXT NOT NULL, watermark TEXT, definition_version TEXT NOT NULL,
      written_at BIGINT NOT NULL, job_id TEXT`;
  const db = await DuckDBInstance.create(path);
  const c = await db.connect();
  await c.run('CREATE SCHEMA concord');
  await c.run(`CREATE TABLE concord.result_rows (${cols}, PRIMARY KEY (pipeline, generation, window_start, cell))`);
  await c.run(`CREATE TABLE concord.result_history (${cols}, PRIMARY KEY (pipeline, generation, window_start, cell, revision))`);
  c.closeSync();
  db.closeSync();
}

async function answers(store: SqlResultStore, instants: number[]): Promise<unknown> {
  const out: unknown[] = [];
  for (const day of DAYS) {
    const status = await store.status(P, day);
    out.push(day, status.status, status.liveGeneration, status.lateDelta, status.dirty);
    out.push((await store.current(P, day)).map((r) => [r.generation, r.windowStart, r.cell, r.values, r.revision, r.provenance]));
    out.push((await store.realtimeResults(P, day)).map((r) => JSON.stringify(r)));
    out.push((await store.dirtyCells(P, day)).map((c) => [c.windowStart, c.key]));
    for (const at of instants) out.push((await store.asOfRows(P, day, at)).map((r) => [r.windowStart, r.cell, r.values, r.revision]));
  }
  return out;
}

describe('embedded store: the live index path answers as the keyed upsert path', () => {
  it('over random write sequences with replays, sealing, reconcile, revert and restarts', async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), fc.integer({ min: 2, max: 40 }), async (steps, cap) => {
      run++;
      process.env.CONCORD_STORE_INDEX_CELLS = String(cap);
      let clock = T0;
      const options = { registry: seedRegistry(), sealDelayMs: 0, now: () => clock };
      const plainPath = join(ws.dir, `live-${run}.duckdb`), keyedPath = join(ws.dir, `keyed-${run}.duckdb`);
      await keyedFile(keyedPath);
      let live = await openStore(`duckdb:${plainPath}`, options);
      let keyed = await openStore(`duckdb:${keyedPath}`, options);
      const instants: number[] = [];
      // The two stores must take the two paths (private state read on purpose: the property is about them).
      const path = (s: SqlResultStore) => ((s as unknown as { writes: { live?: unknown } }).writes.live ? 'live index' : 'keyed');
      expect([path(live), path(keyed)]).toEqual(['live index', 'keyed']);
      try {
        for (const [i, step] of steps.entries()) {
          clock += 1_000;
          if (step.op === 'write') {
            const batch = {
              results: step.rows.map(([m, url, views, rev]) => win(m, url, views, rev)), late: new Map(),
              watermarks: new Map(step.watermark === null ? [] : [[P, T0 + step.watermark * 60_000]]),
            };
            expect(await live.writeBatch(batch), `step ${i}`).toEqual(await keyed.writeBatch(batch));
          } else if (step.op === 'publish') {
            const day = DAYS[step.day]!;
            const records = Array.from({ length: 6 }, (_, m) => win(m, '/a', 100 + m, 0)).filter((r) => new Date(r.windowStart).toISOString().startsWith(day));
            const meta = { jobId: `job-${i}`, provenance: 'reconciled' as const };
            expect(await live.publishDay(P, day, records, meta)).toEqual(await keyed.publishDay(P, day, records, meta));
          } else if (step.op === 'revert') {
            const day = DAYS[step.day]!;
            const outcome = async (s: SqlResultStore) => s.revert(P, day).then((r) => r, (e: Error) => e.message);
            expect(await outcome(live)).toEqual(await outcome(keyed));
          } else {
            await live.close();
            live = await openStore(`duckdb:${plainPath}`, options);
            await keyed.close();
            keyed = await openStore(`duckdb:${keyedPath}`, options);
          }
          instants.push(clock);
          expect(await answers(live, instants.slice(-3)), `after step ${i} (${step.op})`).toEqual(await answers(keyed, instants.slice(-3)));
        }
      } finally {
        await live.close();
        await keyed.close();
        delete process.env.CONCORD_STORE_INDEX_CELLS;
      }
    }), { numRuns: RUNS, endOnFailure: true }); // no shrinking: each run opens two database files
  }, 600_000);
});
