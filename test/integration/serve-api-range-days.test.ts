import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { DAY, P, win } from '../fixtures/result-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// What a reader of /windows, /top and /alerts is told about each day of the range: a day the store holds
// nothing of answered `rows: []` as a day without traffic would, and nothing said whether the rows were
// the stream's (provisional) numbers or a reconciled version without reading every row's generation.
const ws = tempWorkspace('concord-serve-range-days-');
afterAll(() => ws.cleanup());
const F = 'fraud_multi_country';

describe('concord serve: the days of a range', () => {
  it('says per UTC day which version the rows come from, and which days hold nothing (not zeros)', async () => {
    const registry = seedRegistry();
    const url = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const writer = await openStore(url, { registry });
    await writer.writeRealtime([win(0, '/a', 3), win(1, '/a', 4)]);
    const streamed = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await writer.publishDay(P, DAY, [win(0, '/a', 3), win(1, '/a', 5)], { jobId: 'r1', provenance: 'reconciled' });
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry }), log: createLogger('silent') });
    const get = async (path: string) => (await server.app.inject(path)).json();
    try {
      const range = 'from=2026-11-22T12:00:00Z&to=2026-11-24T12:00:00Z';
      const live = await get(`/api/pipelines/${P}/windows?${range}`);
      expect(live.rows.map((r: { values: { views: number } }) => r.values.views)).toEqual([3, 5]);
      expect(live.days).toEqual([
        { date: '2026-11-22', status: 'provisional', live_version: 0, version: null, empty: true },
        { date: DAY, status: 'reconciled', live_version: 1, version: 1, empty: false },
        { date: '2026-11-24', status: 'provisional', live_version: 0, version: null, empty: true },
      ]);
      expect((await get(`/api/pipelines/${P}/windows?date=${DAY}&version=realtime`)).days).toEqual([{ date: DAY, status: 'reconciled', live_version: 1, version: 0, empty: false }]);
      const asOf = await get(`/api/pipelines/${P}/windows?date=${DAY}&asOf=${streamed}`);
      expect(asOf.rows.map((r: { values: { views: number } }) => r.values.views)).toEqual([3, 4]);
      expect(asOf.days).toEqual([{ date: DAY, status: 'reconciled', live_version: 1, version: 0, empty: false }]);
      expect((await get(`/api/pipelines/${P}/top?date=${DAY}`)).days).toEqual([{ date: DAY, status: 'reconciled', live_version: 1, version: 1, empty: false }]);
      const alerts = await get(`/api/pipelines/${F}/alerts?date=${DAY}`);
      expect(alerts).toMatchObject({ rows: [], days: [{ date: DAY, status: 'provisional', live_version: 0, version: null, empty: true }] });
    } finally {
      await server.close();
    }
  });
});
