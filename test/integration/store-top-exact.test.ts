import { describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { exactDigitsOf } from '../../store/rows.ts';
import { storeBackends } from '../fixtures/result-store.ts';
import { FARES, RIDES_DATE, ridesRegistry } from '../fixtures/rides-store.ts';

// /top sums a key's windows in the store. Whole-number outputs (counts, decimals in minor units) are
// summed as integers so the total is the double nearest the exact sum; the sum was a BIGINT cast of
// every value times 10^scale, which overflowed (an error) for a decimal window past ~9.2e16, and counts
// were summed as doubles (2^53 + 1 + 1 gave 2^53).
const { schemas, backends } = storeBackends();
const { registry } = ridesRegistry();
const def = registry.pipeline(FARES);
const T0 = Date.parse(`${RIDES_DATE}T00:00:00.000Z`);
const W = 15 * 60_000;
const TWO_53 = 2 ** 53;

function windows(city: string, cells: { rides: number; revenue: number }[]): WindowResult[] {
  return cells.map((c, i) => ({
    kind: 'window', pipeline: FARES, windowStart: T0 + i * W, windowEnd: T0 + (i + 1) * W, key: { city },
    values: { rides: c.rides, revenue: c.revenue, top_fare: 5, avg_km: 1.5, drivers: 2 }, revision: 0, watermark: null,
    definitionVersion: definitionVersion(def),
  }));
}

describe.each(backends)('top totals past 2^53: $name', ({ url }) => {
  it('counts are summed exactly; a decimal past the BIGINT range is summed as a double, not refused', async () => {
    expect(exactDigitsOf(def, 'rides')).toBe(0);
    expect(exactDigitsOf(def, 'revenue')).toBe(2);
    expect(exactDigitsOf(def, 'avg_km')).toBeNull();
    const schema = schemas.next('topexact');
    const at = url();
    const store = await openStore(at, { registry, schema });
    let generation: number;
    try {
      const rows = [
        ...windows('Lisbon', [{ rides: TWO_53, revenue: 1e17 }, { rides: 1, revenue: 0.01 }, { rides: 1, revenue: 0.02 }]),
        ...windows('Porto', [{ rides: TWO_53, revenue: 10.1 }, { rides: 0, revenue: 0.2 }, { rides: 1, revenue: 0.7 }]),
      ];
      generation = (await store.publishDay(FARES, RIDES_DATE, rows, { jobId: 'g1', provenance: 'reconciled' })).generation;
    } finally {
      await store.close();
    }
    const reader = await openStoreReader(at, { registry, schema });
    try {
      const top = (aggregate: string) => reader.read((s) => s.top(FARES, { from: T0, to: T0 + 3 * W, aggregate, n: 5, version: generation, decimals: exactDigitsOf(def, aggregate) }));
      const rides = await top('rides');
      expect(rides.map((k) => [k.key.city, k.total, k.windows])).toEqual([['Lisbon', TWO_53 + 2, 3], ['Porto', TWO_53, 3]]); // 2^53 + 1: its nearest double
      expect(rides[0]!.total).not.toBe(TWO_53);
      const revenue = await top('revenue');
      expect(revenue.map((k) => [k.key.city, k.total])).toEqual([['Lisbon', 1e17 + 0.03], ['Porto', 11]]);
    } finally {
      await reader.close();
    }
  });
});
