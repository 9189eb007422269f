import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// HEAD is answered on every route (docs/api.md). On /api/live it subscribed like a GET and never ended:
// the client waited forever for the headers, and each such request (an uptime checker, a proxy's probe)
// held one of the 64 live-client places until the server refused real dashboards with 503.
const ws = tempWorkspace('concord-serve-live-head-');
afterAll(() => ws.cleanup());

describe('HEAD /api/live', () => {
  it('answers the stream\'s headers at once and holds no live-client place', async () => {
    const registry = seedRegistry();
    const url = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    await (await openStore(url, { registry })).close();
    const reader = await openStoreReader(url, { registry });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    try {
      const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
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
});
