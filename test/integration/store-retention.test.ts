import pg_ from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { P, storeBackends, T0, win } from '../fixtures/result-store.ts';
import { DAY, fillRetentionStore, MID, minuteOf, OLD, VERDICTS, W } from '../fixtures/retention-store.ts';

// The store's retention (store/store-retention.ts) on both backends: exactly what remains per table after a
// prune, what a dry run (the plan) says, and that kept days read the same before and after.
const { schemas, backends } = storeBackends();

const M = minuteOf;
/** The other pipeline of P's input schema (clicks). */
const U = 'unique_visitors_5m';

describe.each(backends)('store retention: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  const filled = async () => {
    const store = await fillRetentionStore(url(), schemas.next());
    stores.push(store);
    return store;
  };

  const reads = async (store: SqlResultStore, day: string) => JSON.stringify([await store.current(P, day), await store.status(P, day), await store.reconciliations(P, day), await store.lateEvents(P, day), await store.realtimeResults(P, day)]);

  it('keepDays: a sealed day older than the retention goes whole, in every table; the kept days read byte for byte the same', async () => {
    const store = await filled();
    const before = await store.heldRows(P);
    expect(Object.keys(before.days)).toEqual([OLD, MID, DAY]);
    expect(before.days[OLD]).toMatchObject({ result_rows: 6, result_history: 1, day_versions: 1, day_live: 1, switch_log: 1, late_events: 1, reconciliations: 1 });
    const kept = { [MID]: await reads(store, MID), [DAY]: await reads(store, DAY) };

    // The dry run: OLD whole (5 days before W's day is 11-21: 11-20 goes), with its rows per table.
    const plan = await store.prunePlan({ keepDays: 5 });
    expect(plan.map((d) => [d.day, d.whole, d.versions])).toEqual([[OLD, true, [0, 1]]]);
    expect(plan[0]!.rows).toEqual(Object.fromEntries(Object.entries({
      result_rows: 0, result_history: 0, day_versions: 0, day_live: 0, switch_log: 0, changes: 0, dirty_cells: 0, contradicted_cells: 0,
      late_delta: 0, late_events: 0, archive_checks: 0, reconciliations: 0, ...before.days[OLD],
    })));
    // Nothing was deleted by planning.
    expect(await store.heldRows(P)).toEqual(before);

    const done = await store.pruneDay({ keepDays: 5 }, P, OLD);
    expect(done?.rows).toEqual(plan[0]!.rows);
    const after = await store.heldRows(P);
    expect(after).toEqual({ days: { [MID]: before.days[MID], [DAY]: before.days[DAY] }, pruned: [OLD] });
    expect(await reads(store, MID)).toBe(kept[MID]);
    expect(await reads(store, DAY)).toBe(kept[DAY]);
    expect(await store.prunedAt(P, OLD)).toEqual(expect.any(Number));
    expect(await store.prunedAt(P, MID)).toBeNull();
    // Pruned again: nothing more to do.
    expect(await store.prunePlan({ keepDays: 5 })).toEqual([]);
    expect(await store.pruneDay({ keepDays: 5 }, P, OLD)).toBeNull();
    // A reconcile or backfill of the pruned day is refused: its stream rows are gone.
    await expect(store.publishDay(P, OLD, [win(M(OLD), '/a', 1)], { jobId: 'again', provenance: 'reconciled' })).rejects.toThrow(/deleted by the store's retention/);
    await expect(store.upsertBackfill(P, OLD, [], [], { jobId: 'bf' })).rejects.toThrow(/deleted by the store's retention/);
  });

  it('keepDays: the stream\'s verdicts on events (quarantined_events, rejected_events) go by the event\'s day once every pipeline of the input schema is past it', async () => {
    const store = await filled();
    const verdicts = async () => (await Promise.all(['clicks', 'transactions'].map((schema) => store.quarantinedEvents(schema, -Infinity, Infinity))))
      .flat().map((v) => [v.position.source, v.position.offset]);
    const all = await verdicts();
    expect(all).toHaveLength(VERDICTS.quarantined.length + VERDICTS.rejected.length);
    // The other pipeline of clicks streamed a day less far: OLD is within its 5 days, so its verdicts stay.
    await store.setWatermark(U, W - 86_400_000);
    expect(await store.verdictPlan({ keepDays: 5 })).toEqual([]);
    expect(await store.pruneVerdicts({ keepDays: 5 }, 'clicks')).toBeNull();
    // Both past OLD: the verdicts on OLD's events go (the quarantine and the refusal at its last ms), MID's stay;
    // transactions' pipeline holds no watermark here, so its verdict on OLD stays too.
    await store.setWatermark(U, W);
    const plan = await store.verdictPlan({ keepDays: 5 });
    expect(plan).toEqual([{ schema: 'clicks', before: MID, rows: { quarantined_events: 1, rejected_events: 1 } }]);
    expect(await store.verdictPlan({ keepDays: 5 }, ['fraud_multi_country'])).toEqual([]);
    expect(await store.verdictPlan({ keepVersions: 0 })).toEqual([]);
    expect(await verdicts()).toEqual(all); // planning deletes nothing
    expect(await store.pruneVerdicts({ keepDays: 5 }, 'clicks')).toEqual(plan[0]);
    expect(await verdicts()).toEqual([['file:day.jsonl', 101], ['file:tx.jsonl', 100]]);
    expect(await store.verdictPlan({ keepDays: 5 })).toEqual([]);
    // keepDays 0 stops at the first day not sealed (2026-11-23): MID's goes.
    expect(await store.verdictPlan({ keepDays: 0 })).toEqual([{ schema: 'clicks', before: DAY, rows: { quarantined_events: 1, rejected_events: 0 } }]);
  });

  it('never a day that is not sealed, however old: keepDays 0 keeps DAY (W has not sealed it) whole', async () => {
    const store = await filled();
    const before = await store.heldRows(P);
    const kept = await reads(store, DAY);
    const plan = await store.prunePlan({ keepDays: 0, keepVersions: 0 });
    expect(plan.map((d) => [d.day, d.whole])).toEqual([[OLD, true], [MID, true]]);
    for (const d of plan) await store.pruneDay({ keepDays: 0, keepVersions: 0 }, P, d.day);
    expect(await store.heldRows(P)).toEqual({ days: { [DAY]: before.days[DAY] }, pruned: [OLD, MID] });
    expect(await reads(store, DAY)).toBe(kept);
  });

  it('keepVersions: superseded versions past the newest N lose their rows; the live one, the revert target and the stream rows stay', async () => {
    const store = await filled();
    const before = await store.heldRows(P);
    expect(before.days[MID]).toMatchObject({ result_rows: 15, day_versions: 4, reconciliations: 4 });
    const live = JSON.stringify([await store.current(P, MID), await store.status(P, MID), await store.realtimeResults(P, MID), (await store.reconciliations(P, MID)).at(-1)]);
    const plan = await store.prunePlan({ keepVersions: 1 });
    // MID: versions 4 (live) and 3 (revert target) kept; of 2 and 1 the newest one kept. OLD has one version, DAY is not sealed.
    expect(plan.map((d) => [d.day, d.whole, d.versions, d.rows])).toEqual([[MID, false, [1], { result_rows: 3, result_history: 0, reconciliations: 1 }]]);
    await store.pruneDay({ keepVersions: 1 }, P, MID);
    const after = await store.heldRows(P);
    expect(after).toEqual({ days: { ...before.days, [MID]: { ...before.days[MID], result_rows: 12, reconciliations: 3 } }, pruned: [] });
    // What readers see of MID (live rows, status, stream rows, the latest reconciliation) is the same.
    expect(JSON.stringify([await store.current(P, MID), await store.status(P, MID), await store.realtimeResults(P, MID), (await store.reconciliations(P, MID)).at(-1)])).toBe(live);

    // keepVersions 0: version 2 goes too; a revert still finds version 3 whole, and the pruned stay pruned across the switch.
    await store.pruneDay({ keepVersions: 0 }, P, MID);
    expect((await store.heldRows(P)).days[MID]).toMatchObject({ result_rows: 9, reconciliations: 2 });
    expect(await store.revert(P, MID)).toMatchObject({ from: 4, to: 3 });
    expect((await store.current(P, MID)).map((r) => [r.generation, r.key.url, r.values.views])).toEqual([[3, '/a', 30], [3, '/b', 2], [3, '/a', 3]]);
    // After the revert version 4 is the one a revert goes back to: still nothing more to prune.
    expect(await store.prunePlan({ keepVersions: 0 })).toEqual([]);
  });
});

describe('store retention on PostgreSQL: a reader\'s snapshot sees a day whole or absent, never half', () => {
  const pg = backends.find((b) => b.name === 'PostgreSQL')!;
  it('a read that began before the prune reads the whole day to its end; the next read finds it pruned', async () => {
    const schema = schemas.next();
    let clock = T0;
    const store = await openStore(pg.url(), { registry: seedRegistry(), schema, now: () => (clock += 1_000) });
    const reader = await openStoreReader(pg.url(), { registry: seedRegistry(), schema });
    try {
      await store.writeRealtime([win(M(OLD), '/a', 1), win(M(OLD), '/b', 2), win(M(OLD) + 1, '/a', 3)]);
      await store.publishDay(P, OLD, [win(M(OLD), '/a', 5)], { jobId: 'j', provenance: 'reconciled' });
      await store.setWatermark(P, W);
      const whole = JSON.stringify([await store.current(P, OLD), await store.realtimeResults(P, OLD)]);
      const seen = await reader.read(async (s) => {
        const first = await s.store.current(P, OLD);
        // The prune commits between two reads of one snapshot.
        expect((await store.pruneDay({ keepDays: 1 }, P, OLD))?.whole).toBe(true);
        return JSON.stringify([first, await s.store.realtimeResults(P, OLD)]);
      });
      expect(seen).toBe(whole);
      const now = await reader.read(async (s) => [await s.store.holdsNothing(P, OLD), await s.store.prunedAt(P, OLD)]);
      expect(now).toEqual([true, expect.any(Number)]);
    } finally {
      await reader.close();
      await store.close();
    }
  });

  it('a prune that fails in the middle of a day deletes nothing of it (one transaction per day)', async () => {
    const schema = schemas.next();
    const store = await fillRetentionStore(pg.url(), schema);
    const client = new pg_.Client({ connectionString: pg.url() });
    await client.connect();
    try {
      const before = await store.heldRows(P);
      // The last table a whole day is deleted from refuses the DELETE, after the other tables' ran.
      await client.query(`CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
      await client.query(`CREATE TRIGGER refuse BEFORE DELETE ON ${schema}.reconciliations FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse()`);
      await expect(store.pruneDay({ keepDays: 5 }, P, OLD)).rejects.toThrow(/refused by the test/);
      await client.query(`DROP TRIGGER refuse ON ${schema}.reconciliations`);
      expect(await store.heldRows(P)).toEqual(before);
      expect(await store.prunedAt(P, OLD)).toBeNull();
    } finally {
      await client.end();
      await store.close();
    }
  });
});

