import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { DAY, P, T0, win } from '../fixtures/result-store.ts';
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
    await writer.setWatermark(P, T0 + 119_999);
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
        // The stream's watermark is on DAY: it passed 11-22 (no rows: no traffic), not 11-24 (no rows: no data yet).
        { date: '2026-11-22', status: 'provisional', live_version: 0, version: null, empty: true, stream_reached: true },
        { date: DAY, status: 'reconciled', live_version: 1, version: 1, empty: false, stream_reached: true },
        { date: '2026-11-24', status: 'provisional', live_version: 0, version: null, empty: true, stream_reached: false },
      ]);
      expect((await get(`/api/pipelines/${P}/windows?date=${DAY}&version=realtime`)).days).toEqual([{ date: DAY, status: 'reconciled', live_version: 1, version: 0, empty: false, stream_reached: true }]);
      const asOf = await get(`/api/pipelines/${P}/windows?date=${DAY}&asOf=${streamed}`);
      expect(asOf.rows.map((r: { values: { views: number } }) => r.values.views)).toEqual([3, 4]);
      expect(asOf.days).toEqual([{ date: DAY, status: 'reconciled', live_version: 1, version: 0, empty: false, stream_reached: true }]);
      expect((await get(`/api/pipelines/${P}/top?date=${DAY}`)).days).toEqual([{ date: DAY, status: 'reconciled', live_version: 1, version: 1, empty: false, stream_reached: true }]);
      const alerts = await get(`/api/pipelines/${F}/alerts?date=${DAY}`);
      // No stream wrote the rule's watermark: it reached no day.
      expect(alerts).toMatchObject({ rows: [], days: [{ date: DAY, status: 'provisional', live_version: 0, version: null, empty: true, stream_reached: false }] });
    } finally {
      await server.close();
    }
  });

  it('says which days the stream has not reached: /api/days, a day\'s page and the range (provisional by status, with no stream numbers yet)', async () => {
    const registry = seedRegistry();
    const url = `duckdb:${join(ws.dir, 'unreached.duckdb')}`;
    const writer = await openStore(url, { registry });
    const w = T0 + 119_999;
    // A row of the next day whose event time ran ahead of the watermark (W stays on DAY).
    await writer.writeRealtime([win(0, '/a', 3, 0, w), win(1, '/a', 4, 0, w), win(24 * 60 + 5, '/b', 1, 0, w)]);
    await writer.setWatermark(P, w);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry }), log: createLogger('silent') });
    const get = async (path: string) => (await server.app.inject(path)).json();
    try {
      const listed = await get('/api/days?from=2026-11-22&to=2026-11-25');
      const of = (date: string) => listed.days.find((d: { date: string }) => d.date === date)?.pipelines.find((p: { pipeline: string }) => p.pipeline === P);
      expect(of(DAY)).toMatchObject({ status: 'provisional', stream_reached: true });
      expect(of('2026-11-24')).toMatchObject({ status: 'provisional', stream_reached: false });
      const page = async (date: string) => (await get(`/api/days/${date}`)).pipelines.find((p: { pipeline: string }) => p.pipeline === P);
      expect(await page('2026-11-25')).toMatchObject({ status: 'provisional', empty: true, stream_reached: false });
      expect(await page('2026-11-22')).toMatchObject({ status: 'provisional', empty: true, stream_reached: true });
      const range = await get(`/api/pipelines/${P}/windows?from=2026-11-24T00:00:00Z&to=2026-11-26T00:00:00Z`);
      expect(range.days).toEqual([
        { date: '2026-11-24', status: 'provisional', live_version: 0, version: 0, empty: false, stream_reached: false },
        { date: '2026-11-25', status: 'provisional', live_version: 0, version: null, empty: true, stream_reached: false },
      ]);
      // A pipeline no stream wrote (no watermark) reached no day.
      const rule = await get('/api/pipelines/fraud_multi_country/alerts?date=2026-11-22');
      expect(rule.days).toEqual([{ date: '2026-11-22', status: 'provisional', live_version: 0, version: null, empty: true, stream_reached: false }]);
    } finally {
      await server.close();
    }
  });
});
