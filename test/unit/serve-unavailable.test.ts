import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { StoreBusyError, StoreError } from '../../store/sql-driver.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// Every 503 said only "unavailable": an overloaded server (ask less, add a replica) and a store that is
// down (page whoever runs it) looked the same to a dashboard panel and to an alert on 503s.
describe('concord serve: a 503 says why', () => {
  let server: Awaited<ReturnType<typeof buildServer>>;
  let mode: 'down' | 'locked' | 'held' = 'down';
  let open!: () => void;
  const held = new Promise<void>((resolve) => { open = resolve; });
  const snapshot = { empty: true, holdsNoResult: async () => true, otherStores: async () => [], totals: async () => new Map(), extent: async () => ({ first: null, last: null }) };
  beforeAll(async () => {
    const reader = {
      backend: 'postgres', location: 'test', schema: 'concord', sealDelayMs: 0, close: async () => undefined, changeToken: async () => 'same',
      read: async (fn: (s: unknown) => unknown) => {
        if (mode === 'down') throw new StoreError('connect ECONNREFUSED 127.0.0.1:5432', { retriable: true });
        if (mode === 'locked') throw new StoreBusyError('the store file is held by a writer');
        await held;
        return fn(snapshot);
      },
    } as unknown as StoreReader;
    server = await buildServer({ registry: seedRegistry(), reader, log: createLogger('silent'), reads: { running: 1, waiting: 1 }, metricsCacheMs: 0 });
  });
  afterAll(() => server.close());

  it('names the store down, the store locked and the server busy apart, in the answer and in concord_http_unavailable_total', async () => {
    const route = '/api/pipelines/page_views_per_minute/windows?from=2026-01-01&to=2026-01-02';
    const down = await server.app.inject({ method: 'GET', url: route });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ reason: 'store_down', error: 'the store could not answer (see the server log)' });
    expect(down.headers['retry-after']).toBe('5');
    const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toMatchObject({ ready: false, store: 'error', reason: 'store_down' });

    mode = 'locked';
    const locked = await server.app.inject({ method: 'GET', url: route });
    expect(locked.statusCode).toBe(503);
    expect(locked.json()).toMatchObject({ reason: 'store_locked' });
    expect(locked.headers['retry-after']).toBe('1');

    mode = 'held';
    const waiting = [server.app.inject({ method: 'GET', url: '/api/status' }), server.app.inject({ method: 'GET', url: '/api/status' })];
    for (let i = 0; i < 100 && server.gate.waiting < 1; i++) await new Promise((r) => setTimeout(r, 5));
    const busy = await server.app.inject({ method: 'GET', url: '/api/status' });
    expect(busy.statusCode).toBe(503);
    expect(busy.json()).toMatchObject({ reason: 'busy' });
    expect(busy.headers['retry-after']).toBe('2');
    open();
    expect((await Promise.all(waiting)).map((r) => r.statusCode)).toEqual([200, 200]);

    const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
    const counted = (reason: string, r = '/api/pipelines/:pipeline/windows') => metrics.match(new RegExp(`^concord_http_unavailable_total\\{route="${r.replace(/[/:]/g, (c) => `\\${c}`)}",reason="${reason}"\\} (\\d+)$`, 'm'))?.[1];
    expect(counted('store_down')).toBe('1');
    expect(counted('store_locked')).toBe('1');
    expect(counted('busy', '/api/status')).toBe('1');
    expect(counted('store_down', '/readyz')).toBe('1');
    // Every 503 counted by status too, so the two counters agree.
    expect(metrics).toMatch(/^concord_http_requests_total\{method="GET",route="\/api\/pipelines\/:pipeline\/windows",status_code="503"\} 2$/m);
  });
});
