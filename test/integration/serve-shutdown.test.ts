import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Stopping `concord serve` (SIGTERM from systemd or Kubernetes, Ctrl-C) while clients follow the live
// stream: the dashboard keeps one open all the time, and the server's close waited for it to end, so
// the process never exited until it was killed.
const ws = tempWorkspace('concord-serve-shutdown-');
afterAll(() => ws.cleanup());

describe('concord serve stops with live-stream clients connected', () => {
  it('ends every /api/live stream and closes at once', async () => {
    const registry = seedRegistry();
    const url = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    await (await openStore(url, { registry })).close();
    const reader = await openStoreReader(url, { registry });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
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
