import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import type { LiveEvent } from '../../serve/live-feed.ts';
import { createLogger } from '../../serve/logger.ts';
import { MAX_UNREAD_BYTES } from '../../serve/routes/live.ts';
import { buildServer } from '../../serve/server.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// A live-stream (SSE) client that stops reading: every event was written into the response anyway, so
// the server held all of them in memory for as long as the socket stayed open (200 MB of events for one
// socket that never read, measured; 64 such sockets are allowed at once).
describe('concord serve: a live client that stops reading', () => {
  let server: Awaited<ReturnType<typeof buildServer>>;
  let port = 0;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // An empty store: the feed's polls find nothing; the test sends the events itself.
    const reader = { close: async () => undefined, changeToken: async () => 'same', read: async (fn: (s: unknown) => unknown) => fn({ empty: true }) } as unknown as StoreReader;
    server = await buildServer({ registry: seedRegistry(), reader, log: createLogger('silent') });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    port = (server.app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
  });

  const emit = (e: LiveEvent) => (server.ctx.live as unknown as { emit(e: LiveEvent): void }).emit(e);
  const waitFor = async (ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('is dropped once it leaves more than MAX_UNREAD_BYTES unread; a reading client keeps its stream', async () => {
    const open = async (read: boolean) => {
      const s = connect({ host: '127.0.0.1', port });
      sockets.push(s);
      let got = 0;
      s.on('data', (d: Buffer) => { got += d.length; });
      s.write('GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor(() => got > 0);
      if (!read) s.pause();
      return { s, got: () => got };
    };
    const reader = await open(true);
    const stalled = await open(false);
    expect(server.ctx.live.listenerCount).toBe(2);
    const big = 'x'.repeat(64 * 1024);
    const events = Math.ceil((4 * MAX_UNREAD_BYTES) / big.length);
    for (let i = 0; i < events; i++) {
      emit({ type: 'revision', pipeline: 'page_views_per_minute', data: { i, big } });
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => server.ctx.live.listenerCount === 1 && reader.got() > events * big.length);
    expect(server.ctx.live.listenerCount).toBe(1);
    expect(reader.got()).toBeGreaterThan(events * big.length);
    expect(reader.s.destroyed).toBe(false);
    stalled.s.resume();
    await waitFor(() => stalled.s.destroyed || stalled.s.readableEnded);
    expect(stalled.got()).toBeLessThan(2 * MAX_UNREAD_BYTES);
  }, 30_000);
});
