import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { P } from '../fixtures/serve-api.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

// PostgreSQL going away under `concord serve` (connections dropped, new ones refused): the API answered
// 503 without Retry-After (only /readyz and a busy DuckDB file said when to ask again), so a client
// such as a Grafana JSON data source had nothing to pace its retries by. Every 503 of a store that is
// down now says 5 s; nothing hangs, and the same requests answer 200 once it is back.
describe('concord serve when PostgreSQL goes away and comes back', () => {
  const schemas = testSchemas();
  afterAll(() => schemas.drop());

  /** A read while the store does not answer: 503 naming no detail, with when to ask again. */
  function expectStoreDown(day: { statusCode: number; json: () => unknown; headers: Record<string, unknown> }) {
    expect([day.statusCode, day.json()]).toEqual([503, { error: 'the store could not answer (see the server log)', hint: expect.stringMatching(/down or unreachable/), reason: 'store_down' }]);
    expect(day.headers['retry-after']).toBe('5');
  }

  /** The proxy lets PostgreSQL through again: the same reads answer at once. */
  async function expectBackOnceRestored(proxy: TcpProxy, server: { app: { inject: (url: string) => Promise<{ statusCode: number; json: () => unknown }> } }) {
    await proxy.restore();
    expect((await server.app.inject('/api/days/2026-11-23')).statusCode).toBe(200);
    expect((await server.app.inject('/readyz')).json()).toEqual({ ready: true, store: 'ok' });
  }

  /** A store of one day's row, served by `concord serve` reading through a TCP proxy in front of PostgreSQL. */
  async function servedThroughProxy(name: string) {
    const registry = seedRegistry();
    const schema = schemas.next(name);
    const writer = await openStore(PG_URL, { registry, schema });
    const start = Date.UTC(2026, 10, 23, 10);
    await writer.writeRealtime([{ kind: 'window', pipeline: P, windowStart: start, windowEnd: start + 60_000, key: { url: '/pg' }, values: { views: 3 }, revision: 0, watermark: start + 61_000, definitionVersion: definitionVersion(registry.pipeline(P)) }]);
    await writer.close();
    const target = new URL(PG_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(PG_URL);
    url.host = proxy.address;
    const reader = await openStoreReader(url.toString(), { registry, schema });
    return { proxy, server: await buildServer({ registry, reader, log: createLogger('silent'), metricsCacheMs: 0 }) };
  }

  it('answers 503 with Retry-After while it is down, and 200 again once it is back', async () => {
    const { proxy, server } = await servedThroughProxy('sg');
    try {
      expect((await server.app.inject('/api/days/2026-11-23')).statusCode).toBe(200);
      await proxy.cut();
      const day = await server.app.inject('/api/days/2026-11-23');
      expectStoreDown(day);
      expect((await server.app.inject('/readyz')).statusCode).toBe(503);
      expect((await server.app.inject('/api/status')).json().store.status).toBe('error');
      expect((await server.app.inject('/healthz')).statusCode).toBe(200);

      await expectBackOnceRestored(proxy, server);
    } finally {
      await server.close();
      await proxy.close();
    }
  }, 30_000);

  // A network that silently drops packets: the pool's idle connections were handed out and their
  // queries waited forever (seen: no answer after 40 s; the server's statement_timeout never starts, as
  // the query never arrives). A read now gives up 1 s after its statement timeout, new connections after
  // the connect timeout: 503 with Retry-After, as for a refused connection.
  it('answers 503 within its bound when PostgreSQL goes silent, and 200 again once it answers', async () => {
    const saved = { read: process.env.CONCORD_PG_READ_TIMEOUT_MS, connect: process.env.CONCORD_PG_CONNECT_TIMEOUT_MS };
    process.env.CONCORD_PG_READ_TIMEOUT_MS = '500';
    process.env.CONCORD_PG_CONNECT_TIMEOUT_MS = '500';
    const { proxy, server } = await servedThroughProxy('sb');
    try {
      expect((await server.app.inject('/api/days/2026-11-23')).statusCode).toBe(200);
      proxy.blackhole();
      // Both a pooled connection (idle, handed out) and new ones (the pool grows for parallel requests).
      const [day, ready] = await Promise.all([server.app.inject('/api/days/2026-11-23'), server.app.inject('/readyz')]);
      expectStoreDown(day);
      expect(ready.statusCode).toBe(503);
      expect((await server.app.inject('/healthz')).statusCode).toBe(200);

      await expectBackOnceRestored(proxy, server);
    } finally {
      await server.close();
      await proxy.close();
      for (const [k, v] of [['CONCORD_PG_READ_TIMEOUT_MS', saved.read], ['CONCORD_PG_CONNECT_TIMEOUT_MS', saved.connect]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
    }
  }, 30_000);
});
