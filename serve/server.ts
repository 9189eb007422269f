import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from '../pipeline/registry.ts';
import { StoreBusyError, StoreError } from '../store/sql-driver.ts';
import type { StoreReader } from '../store/store-reader.ts';
import type { ServeContext } from './context.ts';
import { dashboardRoutes } from './dashboard.ts';
import { DeadLetters } from './dead-letters.ts';
import type { JobsView } from './jobs-view.ts';
import { LiveFeed } from './live-feed.ts';
import { ServeMetrics } from './metrics.ts';
import { openApiRoute, registerOpenApi } from './openapi.ts';
import { ApiError, badParameter, checkWholeNumbers } from './params.ts';
import { ReadGate, type ReadGateLimits } from './read-gate.ts';
import { dayRoutes } from './routes/days.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { lateRoutes } from './routes/late.ts';
import { liveRoutes } from './routes/live.ts';
import { metricsRoute } from './routes/metrics.ts';
import { pipelineRoutes } from './routes/pipelines.ts';
import { LIMITS } from './schemas.ts';
import { STORE_LOCKED_MESSAGE } from './store-said.ts';
import { sendUnavailable, unavailableReason } from './unavailable.ts';

export interface ServerOptions {
  registry: Registry;
  reader: StoreReader;
  log: Logger;
  jobs?: JobsView;
  /** The Parquet archive, for the dead letters it keeps. */
  archive?: string;
  /** Host header values accepted (DNS-rebinding guard of a loopback server); undefined: any. */
  allowedHosts?: readonly string[];
  pollMs?: number;
  metricsCacheMs?: number;
  now?: () => number;
  version?: string;
  /** How many API requests read the store at once, and wait for a turn (ReadGate). */
  reads?: Partial<ReadGateLimits>;
}

/** The largest request body accepted, in bytes (no route takes one). */
const BODY_LIMIT = 16 * 1024;

/** Headers on every answer: no sniffing, no framing, no referrer, and a page that loads only its own scripts. */
export const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
};

interface AjvError { keyword?: string; instancePath?: string; message?: string; params?: { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] } }

/** Fastify's router parameter bound: a path segment longer than this never reaches a route. */
const MAX_PARAM_LENGTH = 600;

/**
 * The API's answer to a request the router refuses before any route (and so any hook) runs: a path
 * with a malformed %-escape, or a segment past MAX_PARAM_LENGTH. Fastify's own answer echoed the whole
 * path in its own body shape, without the headers every other answer carries.
 */
function routerRefusal(code: string | undefined): { status: number; error: string; hint: string } {
  if (code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return { status: 414, error: `url: a path segment is longer than ${MAX_PARAM_LENGTH} characters`, hint: 'pipeline names are at most 300 characters; GET /api/pipelines lists them' };
  }
  return { status: 400, error: 'url: the path holds a malformed %-escape (a % not followed by two hex digits, or bytes that are not UTF-8)', hint: 'URL-encode pipeline names and keys (encodeURIComponent)' };
}

function parameterOf(v: AjvError): string {
  return v.params?.missingProperty ?? v.params?.additionalProperty ?? (v.instancePath ?? '').split('/').filter(Boolean)[0] ?? 'request';
}

/**
 * The `concord serve` process in one Fastify instance: the read-only JSON API (schema-validated routes,
 * OpenAPI at /api/openapi.json), the live event stream, the dashboard, and /metrics. Nothing here
 * writes: the store is opened through a read-only reader.
 */
export async function buildServer(o: ServerOptions): Promise<{ app: FastifyInstance; ctx: ServeContext; metrics: ServeMetrics; gate: ReadGate; close(): Promise<void> }> {
  const now = o.now ?? Date.now;
  const live = new LiveFeed({ reader: o.reader, registry: o.registry, log: o.log, now, ...(o.pollMs === undefined ? {} : { pollMs: o.pollMs }) });
  const gate = new ReadGate(o.reads);
  const ctx: ServeContext = { registry: o.registry, reader: gate.wrap(o.reader), jobs: o.jobs, deadLetters: new DeadLetters(o.registry, o.archive), live, log: o.log, now };
  const metrics = new ServeMetrics({ reader: o.reader, definitions: o.registry, live, gate, jobs: o.jobs, log: o.log, now, ...(o.metricsCacheMs === undefined ? {} : { cacheMs: o.metricsCacheMs }) });

  const app = Fastify({
    loggerInstance: o.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH, ignoreTrailingSlash: true },
    requestTimeout: 60_000,
    return503OnClosing: true,
    frameworkErrors: (error, req, reply) => {
      const refusal = routerRefusal((error as FastifyError).code);
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
      reply.header('cache-control', 'no-store').header('content-type', 'application/json; charset=utf-8');
      // No hook runs for these requests: count and log them here, as onResponse does for the others.
      metrics.observe(req.method, 'unmatched', refusal.status, reply.elapsedTime / 1000);
      req.log.info({ method: req.method, route: 'unmatched', status: refusal.status, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
      return (reply as FastifyReply).code(refusal.status).send(JSON.stringify({ error: refusal.error, parameter: 'url', hint: refusal.hint }));
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });
  // Answers are plain JSON.stringify: the answer schemas document, they never drop or coerce a value.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Callback style, so the whole request runs inside the gate's request scope (as @fastify/request-context does).
  app.addHook('onRequest', (req, _reply, done) => gate.enter(req.raw, done));
  const allowed = o.allowedHosts?.map((h) => h.toLowerCase());
  app.addHook('onRequest', async (req, reply) => {
    const url = req.raw.url ?? '';
    if (url.length > LIMITS.url) return reply.code(414).send({ error: `the URL is longer than ${LIMITS.url} bytes` });
    // No stored name or key can hold a NUL (PostgreSQL text cannot): refuse it before it reaches a query.
    if (/%00|\u0000/i.test(url)) return reply.code(400).send({ error: 'url: holds a NUL byte', parameter: 'url' });
    // bodyLimit holds for the bodies Fastify parses, and it parses none on GET or HEAD (every route here):
    // a body announced larger is refused before any route runs (one sent chunked is never parsed: Node drops it).
    if (Number(req.headers['content-length'] ?? 0) > BODY_LIMIT) {
      return reply.code(413).send({ error: `the request body is larger than ${BODY_LIMIT} bytes (no route takes one)` });
    }
    if (allowed) {
      const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
      if (!allowed.includes(host)) return reply.code(403).send({ error: 'this server answers to its loopback address only (Host header not allowed)' });
    }
  });
  app.addHook('preValidation', async (req) => checkWholeNumbers(req.routeOptions.schema?.querystring, req.query));
  // Ajv coerces "Infinity" (and 1e400) to a number that passes `type: integer` and skips minimum and
  // maximum (it bounds finite numbers only): `limit=Infinity` reached SQL as `LIMIT Infinity` (a 500) and
  // lifted the row limits of the routes that page in memory. No parameter may be a non-finite number.
  app.addHook('preHandler', async (req) => {
    for (const part of [req.params, req.query]) {
      for (const [name, value] of Object.entries((part ?? {}) as Record<string, unknown>)) {
        for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'number' && !Number.isFinite(v)) throw badParameter(name, 'must be a finite number');
      }
    }
  });
  app.addHook('onSend', async (req, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (req.url.startsWith('/api/') || req.url.startsWith('/metrics')) reply.header('cache-control', 'no-store');
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    const unavailable = reply.statusCode === 503 ? unavailableReason(reply) : undefined;
    metrics.observe(req.method, route, reply.statusCode, seconds, unavailable);
    req.log.info({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ...(unavailable ? { reason: unavailable } : {}) }, 'request');
  });

  app.setErrorHandler((error: FastifyError, req, reply) => {
    if (error.validation && error.validation.length > 0) {
      const v = error.validation[0] as AjvError;
      const parameter = parameterOf(v);
      // A parameter that takes one value, given twice, fails as "must be integer" (the two make an array):
      // say what is wrong with it.
      const given = error.validationContext === 'querystring' ? (req.query as Record<string, unknown> | undefined)?.[parameter] : undefined;
      if (v.keyword === 'type' && Array.isArray(given) && given.length > 1) return reply.code(400).send({ error: `${parameter}: given ${given.length} times; give it once`, parameter });
      const allowed = v.params?.allowedValues;
      const what = v.params?.additionalProperty ? 'is not a parameter of this route'
        : allowed ? `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : (v.message ?? 'is invalid');
      return reply.code(400).send({ error: `${parameter}: ${what}`, parameter });
    }
    if (error instanceof ApiError) {
      const body = { error: error.message, ...(error.parameter ? { parameter: error.parameter } : {}), ...(error.hint ? { hint: error.hint } : {}) };
      if (error.status === 503) return sendUnavailable(reply, error.unavailable ?? 'busy', error.retryAfter, body);
      if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
      return reply.code(error.status).send(body);
    }
    if (error instanceof StoreBusyError) {
      return sendUnavailable(reply, 'store_locked', 1, { error: STORE_LOCKED_MESSAGE, hint: 'retry in a moment; to read while writing, use a PostgreSQL store' });
    }
    if (error instanceof StoreError) {
      req.log.error({ err: error.message }, 'store read failed');
      // Down, not broken (PostgreSQL restarting, unreachable): as /readyz, say when to ask again.
      if (error.retriable) return sendUnavailable(reply, 'store_down', 5, { error: 'the store could not answer (see the server log)', hint: 'the store is down or unreachable: see the server log; ask again after Retry-After' });
      return reply.code(500).send({ error: 'the store could not answer (see the server log)' });
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status < 500) return reply.code(status).send({ error: error.message });
    req.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error (see the server log)' });
  });
  app.setNotFoundHandler((req, reply) => {
    // Every route is read-only: a path that answers GET names its methods (RFC 9110: 405 with Allow).
    const path = (req.raw.url ?? '').split('?')[0] ?? '';
    if (req.method !== 'GET' && req.method !== 'HEAD' && app.findRoute({ method: 'GET', url: path })) {
      return reply.code(405).header('allow', 'GET, HEAD').send({ error: `${req.method} is not allowed here: this API is read-only`, hint: 'use GET' });
    }
    return reply.code(404).send({ error: 'no such route', hint: 'the API is described at /api/openapi.json; the dashboard is at /' });
  });

  await registerOpenApi(app, o.version ?? '0.1.0');
  pipelineRoutes(app, ctx);
  dayRoutes(app, ctx);
  lateRoutes(app, ctx);
  jobRoutes(app, ctx);
  liveRoutes(app, ctx, SECURITY_HEADERS);
  openApiRoute(app);
  metricsRoute(app, metrics);
  healthRoutes(app, ctx, o.reader);
  dashboardRoutes(app);
  await app.ready();

  return {
    app, ctx, metrics, gate,
    async close() {
      await live.close();
      await app.close();
      await o.jobs?.close();
      await o.reader.close();
    },
  };
}
