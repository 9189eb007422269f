import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// docs/api.md and docs/operations.md: "request bodies: 16 KB at most". Fastify's bodyLimit applies only
// to bodies it parses, and it parses none on GET or HEAD (every route here): a GET carrying 20 KB, or
// 20 MB, was answered 200, the body read and dropped.
describe('concord serve: request bodies', () => {
  let server: Awaited<ReturnType<typeof buildServer>>;
  beforeAll(async () => {
    // /healthz and /api/pipelines read no store: a reader that is never asked.
    const reader = { close: async () => undefined } as unknown as StoreReader;
    server = await buildServer({ registry: seedRegistry(), reader, log: createLogger('silent') });
  });
  afterAll(() => server.close());

  it('a body over 16 KB is refused with 413 on any route and method, before the route runs', async () => {
    for (const method of ['GET', 'HEAD', 'POST'] as const) {
      for (const url of ['/healthz', '/api/pipelines', '/no_such_route']) {
        const r = await server.app.inject({ method, url, payload: 'x'.repeat(16 * 1024 + 1), headers: { 'content-type': 'text/plain' } });
        expect(r.statusCode, `${method} ${url}`).toBe(413);
        if (method !== 'HEAD') expect(r.json(), `${method} ${url}`).toEqual({ error: 'the request body is larger than 16384 bytes (no route takes one)' });
      }
    }
  });

  it('a body within the limit changes nothing: the GET is answered as without it', async () => {
    const r = await server.app.inject({ method: 'GET', url: '/healthz', payload: 'x'.repeat(16 * 1024), headers: { 'content-type': 'text/plain' } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ok: true });
  });
});
