import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { FARES, RIDES_DATE, fillRidesStore, revenueCents, ridesRegistry } from '../fixtures/rides-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// What a new user reported of the API, on both backends: totals of a decimal(2) sum that were sums of
// doubles (24541.469999999998), a day `reconciled` in the API but `provisional` in the report, and a
// failed reconciliation's previous version -1.
const ws = tempWorkspace('concord-serve-user-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const backends = [
  { name: 'embedded DuckDB', url: `duckdb:${join(ws.dir, 'store.duckdb')}`, schema: undefined as string | undefined },
  { name: 'PostgreSQL', url: PG_URL, schema: schemas.next('rides') },
];

describe.each(backends)('concord serve on $name: a decimal(2) fare summed per city', (b) => {
  const { registry } = ridesRegistry();
  let server: Awaited<ReturnType<typeof buildServer>>;
  let reader: Awaited<ReturnType<typeof openStoreReader>>;
  beforeAll(async () => {
    await fillRidesStore(b.url, registry, b.schema);
    reader = await openStoreReader(b.url, { registry, ...(b.schema ? { schema: b.schema } : {}) });
    server = await buildServer({ registry, reader, log: createLogger('silent') });
  }, 60_000);
  afterAll(async () => { await server?.close(); });
  const get = async (url: string) => {
    const r = await server.app.inject({ method: 'GET', url });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as Record<string, any>;
  };
  const totals = (body: Record<string, any>) => Object.fromEntries(body.keys.map((k: any) => [k.key.city, k.total]));

  it('top: totals of a decimal output are exact at its scale (a range, a day, one window), doubles stay doubles', async () => {
    const cents = revenueCents();
    // 0.1 + 0.2 as doubles is 0.30000000000000004.
    const first = await get(`/api/pipelines/${FARES}/top?from=${RIDES_DATE}T00:00:00Z&to=${RIDES_DATE}T00:30:00Z&by=revenue`);
    expect(totals(first).Lisbon).toBe(0.3);
    const exact = (list: number[]) => Number(list.reduce((a, c) => a + BigInt(c), 0n)) / 100;
    for (const by of ['revenue', 'top_fare']) {
      const day = await get(`/api/pipelines/${FARES}/top?date=${RIDES_DATE}&by=${by}`);
      expect(totals(day), by).toEqual(Object.fromEntries([...cents].map(([city, list]) => [city, exact(list)])));
      expect(day.keys.map((k: any) => k.total)).toEqual([...day.keys.map((k: any) => k.total)].sort((x, y) => y - x));
    }
    // What a sum of doubles would have said: not these (the test would not see the bug otherwise).
    expect([...cents.values()].some((list) => list.reduce((a, c) => a + c / 100, 0) !== exact(list))).toBe(true);
    const one = await get(`/api/pipelines/${FARES}/top?window=${RIDES_DATE}T00:15:00Z&by=revenue`);
    expect(totals(one)).toEqual(Object.fromEntries([...cents].map(([city, list]) => [city, list[1]! / 100])));
    const km = await get(`/api/pipelines/${FARES}/top?date=${RIDES_DATE}&by=avg_km`);
    for (const k of km.keys) expect(k.total).toBeCloseTo((90 * 91) / 2 / 3, 9);
    const rides = await get(`/api/pipelines/${FARES}/top?date=${RIDES_DATE}&by=rides`);
    for (const k of rides.keys) expect(k.total).toBe((90 * 91) / 2);
  });

  it('days: one status word for the same day in /api/days, /api/days/{date}, the report\'s reads and the metrics', async () => {
    const days = await get('/api/days');
    expect(days.days.find((d: any) => d.date === RIDES_DATE).pipelines.find((p: any) => p.pipeline === FARES)).toMatchObject({ status: 'reconciled', live_version: 1 });
    const day = (await get(`/api/days/${RIDES_DATE}`)).pipelines.find((p: any) => p.pipeline === FARES);
    expect(day).toMatchObject({ status: 'reconciled', day_status: 'reconciled', live_version: 1 });
    // `concord report` reads the store's status (report.ts); the same word.
    const status = await reader.read((s) => s.store.status(FARES, RIDES_DATE));
    expect(status).toMatchObject({ status: 'reconciled', sealed: false, liveGeneration: 1 });
    const metrics = (await server.app.inject('/metrics')).body;
    expect(metrics).toContain(`concord_store_days{pipeline="${FARES}",status="reconciled"} 1`);
    expect(metrics).toContain(`concord_store_days{pipeline="${FARES}",status="provisional"} 0`);
  });

  it('a failed reconciliation has no previous version: null, not -1', async () => {
    const rec = (await get(`/api/days/${RIDES_DATE}`)).pipelines.find((p: any) => p.pipeline === FARES).reconciliation;
    expect(rec).toMatchObject({ status: 'failed_unexplained', version: null, previous_version: null, unexplained: 1 });
    expect(await get(`/api/days/${RIDES_DATE}/pipelines/${FARES}/report`)).toMatchObject({ status: 'failed_unexplained', version: null, previous_version: null, reconciliations: 2 });
  });
});
