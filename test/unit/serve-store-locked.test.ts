import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { StoreBusyError } from '../../store/sql-driver.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// The DuckDB read driver names the file a writer holds ("the DuckDB store /srv/data/store.duckdb is held
// by a writer ..."), for the log. Answered as it was, every 503 while a writer ran, /api/status, /readyz
// and the live stream's `store` event put the server's file path in front of any client, where
// docs/api.md says no file path is answered.
describe('concord serve: a store a writer holds is said without its file path', () => {
  const path = '/srv/private-data-dir/store.duckdb';
  let server: Awaited<ReturnType<typeof buildServer>>;
  beforeAll(async () => {
    const reader = {
      backend: 'duckdb', location: `duckdb:${path}`, schema: 'concord', sealDelayMs: 0, close: async () => undefined, changeToken: async () => 'changed',
      read: async () => { throw new StoreBusyError(`the DuckDB store ${path} is held by a writer (DuckDB: one writing process, or several reading ones)`); },
    } as unknown as StoreReader;
    server = await buildServer({ registry: seedRegistry(), reader, log: createLogger('silent') });
  });
  afterAll(() => server.close());

  it('in a 503, /api/status and /readyz', async () => {
    const locked = await server.app.inject('/api/pipelines/page_views_per_minute/windows?date=2026-11-23');
    expect(locked.statusCode).toBe(503);
    expect(locked.json()).toMatchObject({ reason: 'store_locked', error: expect.stringMatching(/^the store is held by a writer/) });
    const status = await server.app.inject('/api/status');
    expect(status.json().store).toMatchObject({ status: 'busy', location: 'duckdb:store.duckdb', message: expect.stringMatching(/^the store is held by a writer/) });
    const ready = await server.app.inject('/readyz');
    expect(ready.json()).toMatchObject({ ready: false, store: 'busy', message: expect.stringMatching(/^the store is held by a writer/) });
    for (const r of [locked, status, ready]) expect(r.body).not.toContain('private-data-dir');
  });

  it('in the live stream\'s store event', async () => {
    const events: unknown[] = [];
    const stop = server.ctx.live.subscribe((e) => { events.push(e); });
    try {
      await server.ctx.live.poll();
    } finally {
      stop();
    }
    expect(events).toContainEqual({ type: 'store', data: { status: 'busy', message: expect.stringMatching(/^the store is held by a writer/) } });
    expect(JSON.stringify(events)).not.toContain('private-data-dir');
  });
});
