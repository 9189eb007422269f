import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// A wall of dashboard panels asking at once: every request read the store at the same time, each holding
// its rows until all were done (200 panels of 5,000 rows: 250 MB -> 1.1 GB RSS, measured). The server
// admits `running` reads, queues `waiting` more, and refuses the rest with 503 + Retry-After.
describe('concord serve: more API requests than the store reads at once', () => {
  let server: Awaited<ReturnType<typeof buildServer>>;
  let active = 0, most = 0, reads = 0;
  let open!: () => void;
  let gate = new Promise<void>((resolve) => { open = resolve; });
  // An empty store whose API reads wait until the test opens the gate; the probe's and the metrics' reads are let through.
  const snapshot = { empty: true, holdsNoResult: async () => true, otherStores: async () => [], totals: async () => new Map(), extent: async () => ({ first: null, last: null }) };
  beforeAll(async () => {
    const reader = {
      backend: 'duckdb', location: 'test', schema: 'concord', sealDelayMs: 0, close: async () => undefined, changeToken: async () => 'same',
      read: async (fn: (s: unknown) => unknown) => {
        if (!held) return fn(snapshot);
        reads++;
        active++;
        most = Math.max(most, active);
        try {
          await gate;
          return await fn(snapshot);
        } finally {
          active--;
        }
      },
    } as unknown as StoreReader;
    server = await buildServer({ registry: seedRegistry(), reader, log: createLogger('silent'), reads: { running: 2, waiting: 5 } });
  });
  afterAll(() => server.close());
  let held = true;

  it('reads 2 at a time, queues 5, refuses the rest with a JSON 503 and Retry-After; /metrics and /readyz still answer', async () => {
    const answers = Array.from({ length: 20 }, () => server.app.inject({ method: 'GET', url: '/api/status' }));
    for (let i = 0; i < 100 && server.gate.waiting < 5; i++) await new Promise((r) => setTimeout(r, 5));
    expect(active).toBe(2);
    expect(server.gate.waiting).toBe(5);
    // Refused at once, while the 7 admitted are still waiting on the store.
    const refused = (await Promise.all(answers.slice(7)));
    for (const r of refused) {
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('2');
      expect(r.json().error).toMatch(/busy: 2 requests are reading the store and 5 are waiting/);
      expect(r.json().hint).toMatch(/Retry-After/);
    }
    held = false; // the probe and the metrics read beside the gate (and are not held by this store)
    const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/^concord_http_requests_querying 2$/m);
    expect(metrics.body).toMatch(/^concord_http_requests_queued 5$/m);
    expect(metrics.body).toMatch(/^concord_http_requests_refused_busy_total 13$/m);
    expect((await server.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    held = true;
    open();
    const admitted = await Promise.all(answers.slice(0, 7));
    expect(admitted.map((r) => r.statusCode)).toEqual(Array(7).fill(200));
    // The store never had more than the 2 admitted API reads running.
    expect(most).toBe(2);
    expect(server.gate.running).toBe(0);
    expect(server.gate.waiting).toBe(0);
    // Once the queue drained, the next request is admitted again.
    expect((await server.app.inject({ method: 'GET', url: '/api/status' })).statusCode).toBe(200);
    expect(reads).toBe(8);
  });

  it('does not read for a request whose client left while it waited', async () => {
    gate = new Promise<void>((resolve) => { open = resolve; });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (server.app.server.address() as { port: number }).port;
    const before = reads;
    const ask = () => {
      const q = request({ host: '127.0.0.1', port, path: '/api/status' });
      const answered = new Promise<number>((resolve) => { q.on('response', (r) => { r.resume(); resolve(r.statusCode ?? 0); }); q.on('error', () => resolve(0)); });
      q.end();
      return { q, answered };
    };
    const kept = [ask(), ask()];
    for (let i = 0; i < 200 && server.gate.running < 2; i++) await new Promise((r) => setTimeout(r, 5));
    const left = [ask(), ask(), ask()];
    for (let i = 0; i < 200 && server.gate.waiting < 3; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.gate.waiting).toBe(3);
    for (const l of left) l.q.destroy();
    const connections = () => new Promise<number>((resolve) => server.app.server.getConnections((_e, n) => resolve(n)));
    for (let i = 0; i < 200 && (await connections()) > 2; i++) await new Promise((r) => setTimeout(r, 5));
    open();
    expect(await Promise.all(kept.map((k) => k.answered))).toEqual([200, 200]);
    for (let i = 0; i < 200 && server.gate.running > 0; i++) await new Promise((r) => setTimeout(r, 5));
    // The two kept requests read; the three whose clients left gave their turns away unread.
    expect(reads - before).toBe(2);
    expect(server.gate.abandoned).toBe(3);
    expect((await server.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^concord_http_requests_abandoned_total 3$/m);
  });
});
