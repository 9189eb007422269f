import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { P } from '../fixtures/serve-api.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An embedded DuckDB store that goes away while `concord serve` reads it (deleted, moved, a volume
// unmounted) was read as an empty store: /api/status said `ok` with 0 rows, /metrics
// `concord_store_up 1` and every pipeline's rows 0 (its watermark series gone, so no stale-watermark
// alert could fire). It is a store that does not answer: 503, `error`, `up 0` with the last values kept.
const ws = tempWorkspace('concord-serve-store-gone-');
afterAll(() => ws.cleanup());

describe('concord serve when its DuckDB file goes away and comes back', () => {
  it('says the store does not answer, keeps the last metrics, and reads again once it is back', async () => {
    const registry = seedRegistry();
    const path = join(ws.dir, 'store.duckdb');
    const url = `duckdb:${path}`;
    const writer = await openStore(url, { registry });
    const start = Date.UTC(2026, 10, 23, 10);
    await writer.writeRealtime([{ kind: 'window', pipeline: P, windowStart: start, windowEnd: start + 60_000, key: { url: '/gone' }, values: { views: 7 }, revision: 0, watermark: start + 61_000, definitionVersion: definitionVersion(registry.pipeline(P)) }]);
    await writer.setWatermark(P, start + 61_000);
    await writer.close();
    const reader = await openStoreReader(url, { registry });
    const server = await buildServer({ registry, reader, log: createLogger('silent'), metricsCacheMs: 0 });
    const metric = async (line: RegExp) => line.exec((await server.app.inject('/metrics')).body)?.[1];
    try {
      expect((await server.app.inject('/api/status')).json().store.status).toBe('ok');
      expect(await metric(/^concord_store_up (\S+)$/m)).toBe('1');
      expect(await metric(/^concord_store_rows\{pipeline="page_views_per_minute"\} (\S+)$/m)).toBe('1');
      expect((await server.app.inject('/readyz')).json()).toEqual({ ready: true, store: 'ok' });
      await new Promise((r) => setTimeout(r, 400)); // the reader lets the file go

      renameSync(path, `${path}.moved`);
      const status = (await server.app.inject('/api/status')).json();
      expect(status.store.status).toBe('error');
      expect(status.empty).toBe(false);
      const day = await server.app.inject('/api/days/2026-11-23');
      expect(day.statusCode).toBe(503);
      // Readiness follows the store (a load balancer sends readers elsewhere); liveness does not (no restart).
      const ready = await server.app.inject('/readyz');
      expect([ready.statusCode, ready.json()]).toEqual([503, { ready: false, store: 'error', message: 'the store could not answer (see the server log)', reason: 'store_down' }]);
      expect(ready.headers['retry-after']).toBe('5');
      expect((await server.app.inject('/healthz')).statusCode).toBe(200);
      expect(await metric(/^concord_store_up (\S+)$/m)).toBe('0');
      expect(await metric(/^concord_store_rows\{pipeline="page_views_per_minute"\} (\S+)$/m)).toBe('1');
      expect(await metric(/^concord_watermark_timestamp_seconds\{pipeline="page_views_per_minute"\} (\S+)$/m)).toBe(String((start + 61_000) / 1000));

      copyFileSync(`${path}.moved`, path);
      expect((await server.app.inject('/api/status')).json().store.status).toBe('ok');
      expect((await server.app.inject('/api/days/2026-11-23')).statusCode).toBe(200);
      expect((await server.app.inject('/readyz')).statusCode).toBe(200);
      expect(await metric(/^concord_store_up (\S+)$/m)).toBe('1');
    } finally {
      await server.close();
    }
  }, 30_000);
});
