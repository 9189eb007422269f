import { describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { AlertResult, WindowResult } from '../../schemas/results.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { storeBackends } from '../fixtures/result-store.ts';
import { FARES, RIDES_DATE, ridesRegistry } from '../fixtures/rides-store.ts';

// A day recomputed under an unchanged definition gives the same numbers, but a `double` sum or average
// may differ in its last bits (another order of additions, another engine's SQL). The store compared
// values as JSON text, so such a version published hundreds of "corrections" and /compare listed them.
// Reconcile already compares within FLOAT_TOLERANCE; the store's publish, backfill and compare now do too.
const { schemas, backends } = storeBackends();
const { registry } = ridesRegistry();
const def = registry.pipeline(FARES);
const BURST = 'driver_burst';
const T0 = Date.parse(`${RIDES_DATE}T00:00:00.000Z`);
const W = 15 * 60_000;

/** Three windows of Lisbon; `avg_km` summed in another order (the last bits differ), `revenue` a decimal. */
function rows(order: 'a' | 'b', revenue = 12.34): WindowResult[] {
  const kms = [0.1, 0.2, 0.3];
  const avg = (order === 'a' ? kms : [...kms].reverse()).reduce((s, x) => s + x, 0) / kms.length;
  return [0, 1, 2].map((i) => ({
    kind: 'window', pipeline: FARES, windowStart: T0 + i * W, windowEnd: T0 + (i + 1) * W, key: { city: 'Lisbon' },
    values: { rides: 4, revenue: i === 2 ? revenue : 12.34, top_fare: 5, avg_km: avg, drivers: 2 }, revision: 0, watermark: null,
    definitionVersion: definitionVersion(def),
  }));
}

/** The API's /compare of two versions of the day, read through a reader as `concord serve` reads it. */
async function compareVersions(at: string, schema: string, pipeline: string, [a, b]: number[], o: { onlyDifferent: boolean; limit: number }) {
  const reader = await openStoreReader(at, { registry, schema });
  try {
    return await reader.read((s) => s.compare(pipeline, RIDES_DATE, a!, b!, o));
  } finally {
    await reader.close();
  }
}

describe.each(backends)('a double\'s last bits are no change: $name', ({ url }) => {
  it('publish, backfill and compare count only other numbers (a decimal\'s cent still counts)', async () => {
    const a = rows('a')[0]!.values.avg_km as number, b = rows('b')[0]!.values.avg_km as number;
    expect(a).not.toBe(b); // the premise: the two orders of addition really differ in the last bits
    const schema = schemas.next('noise');
    const at = url();
    const store = await openStore(at, { registry, schema });
    let generations: number[];
    try {
      const first = await store.publishDay(FARES, RIDES_DATE, rows('a'), { jobId: 'g1', provenance: 'reconciled' });
      expect(first.corrections).toBe(3);
      const second = await store.publishDay(FARES, RIDES_DATE, rows('b', 12.35), { jobId: 'g2', provenance: 'reconciled' });
      expect(second.corrections).toBe(1); // the revenue cent of window 2, not the three avg_km noises
      const changes = (await store.changesSince(0)).filter((c) => c.generation === second.generation);
      expect(changes.map((c) => [(c.windowStart - T0) / W, c.old?.revenue, c.new?.revenue])).toEqual([[2, 12.34, 12.35]]);
      // A backfill of the same cells recomputed in the first order again: nothing changed.
      const recomputed = rows('a', 12.35);
      const cells = recomputed.map((r) => ({ pipeline: FARES, windowStart: r.windowStart, key: r.key }));
      expect(await store.upsertBackfill(FARES, RIDES_DATE, recomputed, cells, { jobId: 'bf' })).toEqual({ changed: 0 });
      generations = [first.generation, second.generation];
    } finally {
      await store.close();
    }
    // What the API's /compare reads: only the cent, even a page of one row at a time (noise skipped, not a short page).
    const different = await compareVersions(at, schema, FARES, generations, { onlyDifferent: true, limit: 1 });
    expect(different.map((r) => [(r.windowStart - T0) / W, r.a?.revenue, r.b?.revenue, r.differs])).toEqual([[2, 12.34, 12.35, true]]);
    const all = await compareVersions(at, schema, FARES, generations, { onlyDifferent: false, limit: 10 });
    expect(all.map((r) => r.differs)).toEqual([false, false, true]);
  });

  // A rule's stored alert carries `late` (raised by a late event evaluated on arrival); the replay marks
  // none late. A reconciled version counted every alert whose only change was that flag as a correction
  // (57 corrected where the report said 47 different).
  it('an alert whose only change is its late flag is no correction', async () => {
    const alerts = (late: boolean, n7: number): AlertResult[] => [1, 2, 3].map((i) => ({
      kind: 'alert', pipeline: BURST, key: { driver_id: `d${i}` }, idField: 'ride_id', id: `r${i}`, ts: T0 + i * W, output: 'n',
      value: i === 3 ? n7 : 7, late, watermark: null, definitionVersion: definitionVersion(registry.pipeline(BURST)),
    }));
    const schema = schemas.next('lateflag');
    const at = url();
    const store = await openStore(at, { registry, schema });
    let generations: number[];
    try {
      const first = await store.publishDay(BURST, RIDES_DATE, alerts(true, 7), { jobId: 'a1', provenance: 'reconciled' });
      const second = await store.publishDay(BURST, RIDES_DATE, alerts(false, 8), { jobId: 'a2', provenance: 'reconciled' });
      expect(second.generation).toBe(first.generation + 1);
      expect(second.corrections).toBe(1); // d3's measure, not the two flags
      const changes = (await store.changesSince(0)).filter((c) => c.generation === second.generation);
      expect(changes.map((c) => [c.key.driver_id, c.old?.n, c.new?.n])).toEqual([['d3', 7, 8]]);
      generations = [first.generation, second.generation];
    } finally {
      await store.close();
    }
    const different = await compareVersions(at, schema, BURST, generations, { onlyDifferent: true, limit: 10 });
    expect(different.map((r) => [r.a?.n, r.b?.n])).toEqual([[7, 8]]);
  });
});
