import type { FastifyInstance } from 'fastify';
import { StoreBusyError } from '../../store/sql-driver.ts';
import type { StoreReader } from '../../store/store-reader.ts';
import type { ServeContext } from '../context.ts';
import { STORE_LOCKED_MESSAGE } from '../store-said.ts';
import { sendUnavailable } from '../unavailable.ts';

/**
 * Kubernetes-style probes. `/healthz` (liveness) answers while the process does and reads nothing: a
 * store outage must not get the server restarted. `/readyz` (readiness) reads the store once: 503 while
 * it cannot answer (unreachable, its file gone, an embedded DuckDB file held by a writer), so a load
 * balancer sends readers elsewhere until it answers again. Redis is not asked: only /api/jobs needs it.
 * The probe reads beside the API's ReadGate (`reader` is the store's own): a busy API is still ready.
 */
export function healthRoutes(app: FastifyInstance, ctx: ServeContext, reader: StoreReader): void {
  // In the OpenAPI document beside /metrics; no query schema: a probe's cache-busting query stays answered.
  app.get('/healthz', {
    schema: {
      tags: ['operations'], summary: 'Liveness: answers while the process does; reads nothing',
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
    },
  }, async () => ({ ok: true }));
  app.get('/readyz', {
    schema: {
      tags: ['operations'], summary: 'Readiness: reads the store once; 503 with Retry-After while it cannot answer (down, unreachable, locked by a writer)',
      response: {
        200: { type: 'object', properties: { ready: { type: 'boolean' }, store: { type: 'string' } } },
        503: { type: 'object', properties: { ready: { type: 'boolean' }, store: { type: 'string', enum: ['busy', 'error'] }, message: { type: 'string' } } },
      },
    },
  }, async (_req, reply) => {
    try {
      await reader.read((s) => s.holdsNoResult());
      return { ready: true, store: 'ok' };
    } catch (error) {
      const busy = error instanceof StoreBusyError;
      ctx.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'readyz: the store did not answer');
      return sendUnavailable(reply, busy ? 'store_locked' : 'store_down', busy ? 1 : 5, {
        ready: false, store: busy ? 'busy' : 'error', message: busy ? STORE_LOCKED_MESSAGE : 'the store could not answer (see the server log)',
      });
    }
  });
}
