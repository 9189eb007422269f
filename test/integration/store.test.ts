import { afterAll, describe, expect, it } from 'vitest';
import { fraudMultiCountry, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { AlertResult, WindowResult } from '../../schemas/results.ts';
import { openStore } from '../../store/open-store.ts';
import { DuckDbDriver } from '../../store/duckdb-driver.ts';
import { PostgresDriver } from '../../store/pg-driver.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, P, storeBackends, T0, V, win } from '../fixtures/result-store.ts';

// One conformance suite, run against both backends: embedded DuckDB and the real PostgreSQL
// (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test), each test in a schema of its own.
// PostgreSQL's own behaviour is in store-postgres.test.ts, the store sink's in store-sink.test.ts.
const { schemas, backends } = storeBackends();

function alert(user: string, id: string, ts: number): AlertResult {
  return {
    kind: 'alert', pipeline: fraudMultiCountry().name, key: { user_id: user }, idField: 'txn_id', id, ts, output: 'countries',
    value: ['DE', 'FR', 'IT', 'US'], late: false, watermark: ts, definitionVersion: definitionVersion(fraudMultiCountry()),
  };
}

const views = (rows: { key: Record<string, unknown>; values: Record<string, unknown>; windowStart: number }[]) =>
  rows.map((r) => [(r.windowStart - T0) / 60_000, r.key.url, r.values.views]);

describe.each(backends)('result store conformance: $name', ({ name, url }) => {
  let clock = T0 + 3_600_000;
  const open = async (schema = schemas.next(), target = url()) => {
    return { store: await openStore(target, { registry: seedRegistry(), schema, now: () => clock }), schema, target };
  };
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });
  const fresh = async () => { const o = await open(); stores.push(o.store); return o.store; };

  it('realtime writes are idempotent upserts guarded by revision; history answers as-of', async () => {
    const store = await fresh();
    const t1 = clock;
    expect(await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1), win(1, '/a', 5)])).toEqual({ applied: 3, diverted: 0 });
    // The same rows again (a replayed results topic): nothing changes.
    expect(await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1)])).toEqual({ applied: 0, diverted: 0 });
    clock += 60_000;
    const t2 = clock;
    // A late update within L (revision 1) wins; a stale revision 0 arriving after it does not.
    expect((await store.writeRealtime([win(0, '/a', 3, 1)])).applied).toBe(1);
    expect((await store.writeRealtime([win(0, '/a', 7, 0)])).applied).toBe(0);
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/a', 5]]);
    const cur = await store.current(P, DAY);
    expect(cur[0]).toMatchObject({ revision: 1, provenance: 'late-update', generation: 0, definitionVersion: V });
    expect(cur[1]).toMatchObject({ revision: 0, provenance: 'realtime' });
    // What the dashboard showed at t1 and at t2.
    expect(views(await store.asOfRows(P, DAY, t1))).toEqual([[0, '/a', 2], [0, '/b', 1], [1, '/a', 5]]);
    expect(views(await store.asOfRows(P, DAY, t2))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/a', 5]]);
    expect(await store.asOfRows(P, DAY, t1 - 1)).toEqual([]);
  });

  it('a reconciled version becomes visible in one switch; late stream rows never overwrite it but mark the cell dirty; backfill and revert', async () => {
    const store = await fresh();
    await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1), win(2, '/c', 4)]);
    const before = clock;
    clock += 60_000;
    const published = await store.publishDay(P, DAY, [win(0, '/a', 3), win(0, '/b', 1), win(1, '/d', 1)], { jobId: 'job-1', provenance: 'reconciled' });
    // /a 2 -> 3, /d new, /c gone (the replay has no such window): three corrections.
    expect(published).toEqual({ generation: 1, previous: 0, corrections: 3 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/d', 1]]);
    expect((await store.current(P, DAY))[0]).toMatchObject({ provenance: 'reconciled', generation: 1 });
    // Retrying the same job (the same replay) changes nothing (idempotent per job id); the live version is
    // its own, so it is told so with what that switch did (0 -> 1, three corrections): a retry whose first
    // attempt's answer was lost records that publish (reconcile-day).
    expect(await store.publishDay(P, DAY, [win(0, '/a', 3), win(0, '/b', 1), win(1, '/d', 1)], { jobId: 'job-1', provenance: 'reconciled' })).toEqual({ generation: 1, previous: 1, corrections: 0, ownSwitch: { previous: 0, corrections: 3 } });
    // Another job finding the same replay live: nothing to do, nothing of its own.
    expect(await store.publishDay(P, DAY, [win(0, '/a', 3), win(0, '/b', 1), win(1, '/d', 1)], { jobId: 'job-other', provenance: 'reconciled' })).toEqual({ generation: 1, previous: 1, corrections: 0 });
    const changes = await store.changesSince(0);
    expect(changes.map((c) => [c.cell, c.old, c.new, c.provenance])).toEqual([
      ['["/a"]', { views: 2 }, { views: 3 }, 'reconciled'],
      ['["/d"]', null, { views: 1 }, 'reconciled'],
      ['["/c"]', { views: 4 }, null, 'reconciled'],
    ]);
    // A late stream update for the reconciled day: generation 0 moves, readers do not; the cell is dirty.
    clock += 60_000;
    expect(await store.writeRealtime([win(0, '/b', 2, 1)])).toEqual({ applied: 1, diverted: 1 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/d', 1]]);
    expect((await store.realtimeResults(P, DAY)).map((r) => [(r as WindowResult).key.url, (r as WindowResult).values.views])).toEqual([['/a', 2], ['/b', 2], ['/c', 4]]);
    expect((await store.dirtyCells(P, DAY)).map(({ recordedAt: _, ...d }) => d)).toEqual([{ pipeline: P, windowStart: T0, key: { url: '/b' } }]);
    expect((await store.status(P, DAY)).dirty).toBe(1);
    // Backfill writes the recomputed cell into the live version and consumes it.
    const afterSwitch = clock;
    clock += 60_000;
    expect(await store.upsertBackfill(P, DAY, [win(0, '/b', 2)], await store.dirtyCells(P, DAY), { jobId: 'bf-1' })).toEqual({ changed: 1 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 3], [0, '/b', 2], [1, '/d', 1]]);
    expect((await store.current(P, DAY))[1]).toMatchObject({ provenance: 'backfill', revision: 1, generation: 1 });
    expect(await store.dirtyCells(P, DAY)).toEqual([]);
    const last = (await store.changesSince(0)).at(-1)!;
    expect([last.cell, last.old, last.new, last.provenance]).toEqual(['["/b"]', { views: 1 }, { views: 2 }, 'backfill']);
    // As of before the switch: the stream's version; right after it: the reconciled one.
    expect(views(await store.asOfRows(P, DAY, before))).toEqual([[0, '/a', 2], [0, '/b', 1], [2, '/c', 4]]);
    expect(views(await store.asOfRows(P, DAY, afterSwitch))).toEqual([[0, '/a', 3], [0, '/b', 1], [1, '/d', 1]]);
    // Revert: the previous version is live again, in one switch, published too.
    clock += 60_000;
    expect(await store.revert(P, DAY)).toEqual({ from: 1, to: 0, corrections: 3 }); // /b is 2 in both
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 2], [0, '/b', 2], [2, '/c', 4]]);
    expect((await store.status(P, DAY))).toMatchObject({ liveGeneration: 0, generations: [1] });
  });

  it('the same job id publishing again after its version stopped being live makes a new version with the replay, never rewrites the old one', async () => {
    const store = await fresh();
    await store.writeRealtime([win(0, '/a', 2), win(0, '/b', 1)]);
    clock += 60_000;
    expect(await store.publishDay(P, DAY, [win(0, '/a', 3), win(0, '/b', 1)], { jobId: 'rec', provenance: 'reconciled' })).toMatchObject({ generation: 1, previous: 0 });
    const sawOne = clock;
    // Another version goes live (another job; a backfill withdrawing alerts does the same), then `rec`
    // runs again over an archive that gained events: its replay is the new truth, as a new version.
    clock += 60_000;
    expect(await store.publishDay(P, DAY, [win(0, '/a', 4), win(0, '/b', 1)], { jobId: 'other', provenance: 'reconciled' })).toMatchObject({ generation: 2, previous: 1 });
    clock += 60_000;
    expect(await store.publishDay(P, DAY, [win(0, '/a', 5), win(0, '/b', 2)], { jobId: 'rec', provenance: 'reconciled' })).toEqual({ generation: 3, previous: 2, corrections: 2 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 5], [0, '/b', 2]]);
    // After a revert (back to version 2), the same again: a new version, not version 3 switched back to.
    clock += 60_000;
    await store.revert(P, DAY);
    expect((await store.status(P, DAY)).liveGeneration).toBe(2);
    clock += 60_000;
    expect(await store.publishDay(P, DAY, [win(0, '/a', 6), win(0, '/b', 2)], { jobId: 'rec', provenance: 'reconciled' })).toMatchObject({ generation: 4, previous: 2 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 6], [0, '/b', 2]]);
    // Version 1, which readers saw, still says what it said.
    expect(views(await store.asOfRows(P, DAY, sawOne))).toEqual([[0, '/a', 3], [0, '/b', 1]]);
    expect((await store.status(P, DAY)).generations).toEqual([1, 2, 3, 4]);
  });

  it('backfills of a reconciled day add one history revision each; as-of reads see every one', async () => {
    const store = await fresh();
    await store.writeRealtime([win(0, '/a', 1), win(0, '/b', 1)]);
    await store.publishDay(P, DAY, [win(0, '/a', 1), win(0, '/b', 1)], { jobId: 'rec', provenance: 'reconciled' });
    const states: number[] = [];
    for (const views of [4, 6]) {
      clock += 60_000;
      expect(await store.upsertBackfill(P, DAY, [win(0, '/a', views)], [], { jobId: `bf-${views}` })).toEqual({ changed: 1 });
      states.push(clock);
    }
    expect((await store.current(P, DAY))[0]).toMatchObject({ provenance: 'backfill', revision: 2, generation: 1, values: { views: 6 } });
    expect(views(await store.asOfRows(P, DAY, states[0]!))).toEqual([[0, '/a', 4], [0, '/b', 1]]);
    expect(views(await store.asOfRows(P, DAY, states[1]!))).toEqual([[0, '/a', 6], [0, '/b', 1]]);
  });

  it('a day is sealed once the watermark passes its end plus the seal delay; rows for it count as late-delta', async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next(), now: () => clock, sealDelayMs: 3_600_000 });
    stores.push(store);
    await store.writeRealtime([win(0, '/a', 1)]);
    await store.setWatermark(P, Date.UTC(2026, 10, 24, 0, 59));
    expect((await store.status(P, DAY)).status).toBe('provisional');
    await store.setWatermark(P, Date.UTC(2026, 10, 24, 1, 0));
    await store.setWatermark(P, Date.UTC(2026, 10, 23)); // W never goes back
    expect((await store.status(P, DAY)).status).toBe('sealed');
    expect(await store.writeRealtime([win(0, '/a', 2, 1), win(3, '/z', 1)])).toEqual({ applied: 0, diverted: 2 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 1]]);
    expect(await store.status(P, DAY)).toMatchObject({ lateDelta: 2, dirty: 2 });
    await store.upsertBackfill(P, DAY, [win(0, '/a', 2), win(3, '/z', 1)], await store.dirtyCells(P, DAY), { jobId: 'bf' });
    expect(await store.status(P, DAY)).toMatchObject({ lateDelta: 0, dirty: 0 });
    expect(views(await store.current(P, DAY))).toEqual([[0, '/a', 2], [3, '/z', 1]]);
  });

  it('the stream\'s quarantine verdicts: kept per input schema and position, written once, read by event time; a store created before gets the table', async () => {
    const { store, schema, target } = await open();
    const held = (offset: number, eventTime: number, schemaName = 'clicks') => ({ schema: schemaName, source: 'file:day.jsonl', offset, eventTime, reference: eventTime - 7_200_000 });
    await store.writeBatch({ results: [], late: new Map(), watermarks: new Map(), quarantined: [held(3, T0), held(9, T0 + 86_400_000), held(3, T0, 'transactions')] });
    // A rerun over the same input writes nothing twice.
    await store.writeBatch({ results: [win(0, '/a', 1)], late: new Map(), watermarks: new Map(), quarantined: [held(3, T0)] });
    expect(await store.quarantinedEvents('clicks', T0 - 1, T0 + 86_400_000)).toEqual([{ position: { source: 'file:day.jsonl', offset: 3 }, eventTime: T0, reference: T0 - 7_200_000 }]);
    expect((await store.quarantinedEvents('clicks', T0 - 1, T0 + 86_400_001)).map((q) => q.position.offset)).toEqual([3, 9]);
    expect((await store.quarantinedEvents('transactions', 0, Infinity)).map((q) => q.position.offset)).toEqual([3]);
    // A store written before the table existed: its next writer adds it, empty, and the rows stay.
    await store.close();
    const driver = target.startsWith('duckdb:') ? await DuckDbDriver.open(target.slice('duckdb:'.length)) : await PostgresDriver.open(target, 0);
    await driver.query(`DROP TABLE ${schema}.quarantined_events`);
    await driver.close();
    const again = await open(schema, target);
    stores.push(again.store);
    expect(await again.store.quarantinedEvents('clicks', 0, Infinity)).toEqual([]);
    expect(views(await again.store.current(P, DAY))).toEqual([[0, '/a', 1]]);
  });

  it('the stream\'s refusals for a field: kept per input schema and position with their reason, written once, read by event time beside the time verdicts; a store created before gets the table', async () => {
    const { store, schema, target } = await open();
    const refused = (offset: number, eventTime: number, schemaName = 'clicks') => ({ schema: schemaName, source: 'file:day.jsonl', offset, eventTime, reason: 'userId: is required' });
    const long = { ...refused(4, T0 + 1), reason: `userId: ${'x'.repeat(500)}` };
    await store.writeBatch({ results: [], late: new Map(), watermarks: new Map(), rejected: [refused(3, T0), long, refused(9, T0 + 86_400_000), refused(3, T0, 'transactions')],
      quarantined: [{ schema: 'clicks', source: 'file:day.jsonl', offset: 5, eventTime: T0 + 2, reference: T0 - 7_200_000 }] });
    // A rerun over the same input (or a sink reading its dead-letter topic again) writes nothing twice.
    await store.writeBatch({ results: [win(0, '/a', 1)], late: new Map(), watermarks: new Map(), rejected: [refused(3, T0)] });
    const day = await store.quarantinedEvents('clicks', T0 - 1, T0 + 86_400_000);
    expect(day.map((q) => [q.position.offset, q.eventTime, q.rejected?.length ?? null])).toEqual([[5, T0 + 2, null], [3, T0, 19], [4, T0 + 1, 200]]);
    expect(day[1]).toEqual({ position: { source: 'file:day.jsonl', offset: 3 }, eventTime: T0, rejected: 'userId: is required' });
    expect((await store.quarantinedEvents('transactions', 0, Infinity)).map((q) => q.position.offset)).toEqual([3]);
    await store.close();
    const driver = target.startsWith('duckdb:') ? await DuckDbDriver.open(target.slice('duckdb:'.length)) : await PostgresDriver.open(target, 0);
    await driver.query(`DROP TABLE ${schema}.rejected_events`);
    await driver.close();
    const again = await open(schema, target);
    stores.push(again.store);
    expect((await again.store.quarantinedEvents('clicks', 0, Infinity)).map((q) => q.position.offset)).toEqual([5]);
  });

  it('alerts are stored and read back as alerts', async () => {
    const store = await fresh();
    const a = alert('u1', 't9', T0 + 5_000);
    await store.writeRealtime([a]);
    expect(await store.realtimeResults(a.pipeline, DAY)).toEqual([a]);
  });

  it('one write of many windows and alerts (more windows than a write inlines) stores each row with its own window; a second write updates half', async () => {
    const store = await fresh();
    const windows = Array.from({ length: 100 }, (_, m) => [win(m, '/a', m + 1), win(m, "/b'q", 2 * m + 1)]).flat();
    const alerts = Array.from({ length: 80 }, (_, i) => alert(`u${i % 7}`, `t${i}`, T0 + i * 1_000));
    expect(await store.writeRealtime([...windows, ...alerts])).toEqual({ applied: 280, diverted: 0 });
    const updates = windows.filter((_, i) => i % 4 === 0).map((r) => ({ ...r, values: { views: r.values.views! + 1000 }, revision: 1 }));
    expect(await store.writeRealtime(updates)).toEqual({ applied: 50, diverted: 0 });
    const current = await store.current(P, DAY);
    expect(current).toHaveLength(200);
    const updated = new Set(updates.map((r) => `${r.windowStart}|${r.key.url}`));
    for (const r of current) {
      const minute = (r.windowStart - T0) / 60_000;
      const bumped = updated.has(`${r.windowStart}|${r.key.url}`);
      expect({ end: r.windowEnd, kind: r.kind, version: r.definitionVersion, revision: r.revision, views: r.values.views })
        .toEqual({ end: r.windowStart + 60_000, kind: 'window', version: V, revision: bumped ? 1 : 0, views: (r.key.url === '/a' ? minute + 1 : 2 * minute + 1) + (bumped ? 1000 : 0) });
    }
    expect(await store.realtimeResults(fraudMultiCountry().name, DAY)).toEqual(alerts);
  });

  it(`readers never see a half-switched day (${name})`, async () => {
    const { store, schema, target } = await open();
    stores.push(store);
    const reader = name === 'PostgreSQL' ? await openStore(target, { registry: seedRegistry(), schema }) : store;
    if (reader !== store) stores.push(reader);
    const cells = Array.from({ length: 600 }, (_, i) => win(i % 600, `/u${i}`, 1));
    await store.writeRealtime(cells);
    let done = false;
    const seen = new Set<string>();
    const reading = (async () => {
      while (!done) {
        const rows = await reader.current(P, DAY);
        seen.add([...new Set(rows.map((r) => String(r.values.views)))].sort().join(','));
      }
    })();
    await store.publishDay(P, DAY, cells.map((c) => ({ ...c, values: { views: 2 } })), { jobId: 'big', provenance: 'reconciled' });
    done = true;
    await reading;
    const after = await reader.current(P, DAY);
    expect(after).toHaveLength(600);
    expect(new Set(after.map((r) => r.values.views))).toEqual(new Set([2]));
    // Every read saw one version: all 1s or all 2s, never a mix.
    for (const s of seen) expect(['1', '2']).toContain(s);
  });
});
