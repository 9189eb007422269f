import { afterAll, describe, expect, it } from 'vitest';
import { fraudMultiCountry, seedRegistry } from '../../examples/seed.ts';
import type { LoggedLate } from '../../reconcile/reconcile.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { DAY, storeBackends, T0 } from '../fixtures/result-store.ts';

// A rule's merge stage records an event it fed out of the canonical order (its partition woke up from
// idle) in the late log after the worker's own record of it, when the worker judged it late within L. The
// store keeps one record per position: the merge's, which says where reconcile must feed the event.
const { schemas, backends } = storeBackends();
const def = fraudMultiCountry();
const event = { txn_id: 't1', ts: T0, user_id: 'u1', country: 'PT', amount: 1 };
const record = { pipeline: def.name, event, position: { source: 'transactions:1', offset: 7 }, watermark: T0 + 10 };

describe.each(backends)('store: the merge stage\'s record of a late event fed after an idle wakeup: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  it('replaces the worker\'s record of the same position, once, and reads back as written', async () => {
    const store = await openStore(url(), { registry: seedRegistry(), schema: schemas.next('wk') });
    stores.push(store);
    const worker: LoggedLate = { record, evaluatedOnArrival: true };
    const merge: LoggedLate = { record, evaluatedOnArrival: true, decidedAfterWakeup: { at: T0 + 60_000, order: 3 } };
    expect(await store.appendLate(def.name, [worker])).toBe(1);
    expect(await store.appendLate(def.name, [merge])).toBe(0);
    expect(await store.lateEvents(def.name, DAY)).toEqual([merge]);
    // The topic read again (a sink restarted): the worker's record changes nothing.
    expect(await store.appendLate(def.name, [worker, merge])).toBe(0);
    expect(await store.appendLate(def.name, [merge, worker])).toBe(0);
    expect(await store.lateEvents(def.name, DAY)).toEqual([merge]);
  });

  it('keeps the merge\'s record of an on-time event for reconcile, but counts only late events as late', async () => {
    const schema = schemas.next('ontime');
    const at = url();
    const store = await openStore(at, { registry: seedRegistry(), schema });
    stores.push(store);
    const late: LoggedLate = { record, evaluatedOnArrival: true, decidedAfterWakeup: { at: T0 + 60_000, order: 0 } };
    const dropped: LoggedLate = { record: { ...record, position: { source: 'transactions:1', offset: 8 } }, evaluatedOnArrival: false };
    const onTime: LoggedLate = { record: { ...record, position: { source: 'transactions:0', offset: 3 } }, evaluatedOnArrival: false, decidedAfterWakeup: { at: T0 + 60_000, order: 1 } };
    await store.appendLate(def.name, [late, dropped, onTime]);
    expect(await store.lateEvents(def.name, DAY)).toHaveLength(3);
    await store.close();
    stores.pop();
    const reader = await openStoreReader(at, { registry: seedRegistry(), schema });
    try {
      expect(await reader.read((s) => s.lateCounts(DAY, DAY))).toEqual([{ pipeline: def.name, day: DAY, n: 2 }]);
      expect((await reader.read((s) => s.totals())).get(def.name)?.late).toBe(2);
    } finally {
      await reader.close();
    }
  });
});
