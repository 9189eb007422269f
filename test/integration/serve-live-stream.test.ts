import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The live stream (/api/live) against an empty store: probes and shutdown.
const ws = tempWorkspace('concord-serve-live-');
afterAll(() => ws.cleanup());

/** A server over a new empty DuckDB store, listening on a free loopback port. */
async function emptyServer(name: string) {
  const registry = seedRegistry();
  const url = `duckdb:${join(ws.dir, `${name}.duckdb`)}`;
  await (await openStore(url, { registry })).close();
  const reader = await openStoreReader(url, { registry });
  const server = await buildServer({ registry, reader, log: createLogger('silent') });
  return { server, address: await server.app.listen({ host: '127.0.0.1', port: 0 }) };
}

describe('the live stream', () => {
  // HEAD is answered on every route (docs/api.md). On /api/live it subscribed like a GET and never ended:
  // the client waited forever for the headers, and each such request (an uptime checker, a proxy's probe)
  // held one of the 64 live-client places until the server refused real dashboards with 503.
  it('HEAD answers the stream\'s headers at once and holds no live-client place', async () => {
    const { server, address } = await emptyServer('head');
    try {
      const heads = await Promise.all([0, 1, 2].map(() => fetch(`${address}/api/live`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) })));
      for (const res of heads) {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/event-stream');
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
      expect(server.ctx.live.listenerCount).toBe(0);
      const metrics = await (await fetch(`${address}/metrics`)).text();
      expect(metrics).toMatch(/^concord_live_clients 0$/m);
      // An unknown pipeline is the same 400 as for GET.
      expect((await fetch(`${address}/api/live?pipeline=nope`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) })).status).toBe(400);
    } finally {
      await server.close();
    }
  }, 30_000);

  // Stopping `concord serve` (SIGTERM from systemd or Kubernetes, Ctrl-C) while clients follow the live
  // stream: the dashboard keeps one open all the time, and the server's close waited for it to end, so
  // the process never exited until it was killed.
  it('a server stopping with clients connected ends every stream and closes at once', async () => {
    const { server, address } = await emptyServer('shutdown');
    const streams = await Promise.all([0, 1].map(async () => {
      const res = await fetch(`${address}/api/live`);
      expect(res.status).toBe(200);
      const body = res.body!.getReader();
      const first = new TextDecoder().decode((await body.read()).value);
      expect(first).toContain('event: hello');
      // (wrapped: an async function returning a promise would wait for it)
      return { ended: (async () => { while (!(await body.read()).done); return 'ended'; })().catch(() => 'ended') };
    }));
    const started = performance.now();
    const closed = await Promise.race([server.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open after 5 s'), 5_000))]);
    expect(closed).toBe('closed');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await Promise.all(streams.map((s) => s.ended))).toEqual(['ended', 'ended']);
  }, 30_000);
});
