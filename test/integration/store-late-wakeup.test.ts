import { afterAll, describe, expect, it } from 'vitest';
import { fraudMultiCountry, seedRegistry } from '../../examples/seed.ts';
import type { LoggedLate } from '../../reconcile/reconcile.ts';
import { openStore } from '../../store/open-store.ts';
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
});
