import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { isoMillis } from '../../pipeline/time.ts';
import { StoreBusyError } from '../../store/sql-driver.ts';
import { EMPTY_HINT, type ServeContext } from '../context.ts';
import { otherStoresSaid } from '../../store/open-store.ts';
import type { LiveEvent } from '../live-feed.ts';
import { ApiError, badParameter, isoOrNull } from '../params.ts';
import { anyObject, errors, noQuery } from '../schemas.ts';
import { answeredLocation, STORE_LOCKED_MESSAGE } from '../store-said.ts';
import { sendUnavailable } from '../unavailable.ts';

/** At most this many live-stream clients at once (each costs a socket; the poll is shared). */
export const MAX_LIVE_CLIENTS = 64;
/**
 * Bytes a live client may leave unread before it is dropped: a client that stops reading (a hung tab, a
 * hostile socket) would otherwise hold every event sent since in the server's memory. A reading client
 * stays far below it (a poll sends at most ~2,000 rows a pipeline); a dropped browser reconnects and reads again.
 */
export const MAX_UNREAD_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

export function liveRoutes(app: FastifyInstance, ctx: ServeContext, security: Record<string, string>): void {
  const tags = ['live'];
  // The open streams, ended when the server closes: they never end on their own, and the server's close
  // waits for every connection (SIGTERM would leave the process running while a dashboard is open).
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const raw of streams) raw.end();
  });

  app.get('/api/status', {
    schema: {
      tags, summary: 'The store and each pipeline now: watermark and how far it is behind the wall clock, newest window, late events',
      description: 'Always answers: `store.status` says whether the store could be read (`busy`: an embedded DuckDB file held by a writer).',
      querystring: noQuery,
      response: { 200: { type: 'object', additionalProperties: true, properties: { server_time: { type: 'string' }, store: anyObject, pipelines: { type: 'array', items: anyObject } } } },
    },
  }, async () => {
    const now = ctx.now();
    const store = {
      backend: ctx.reader.backend, location: answeredLocation(ctx.reader), ...(ctx.reader.backend === 'postgres' || ctx.reader.schema !== 'concord' ? { schema: ctx.reader.schema } : {}),
      status: 'ok' as 'ok' | 'busy' | 'error', empty: false, message: undefined as string | undefined,
    };
    let pipelines: unknown[] = [];
    // Results of pipelines the definitions do not name: renamed or removed ones (their days stay under the
    // old name), or, when none is the definitions', a store filled with other definitions (not "run concord demo").
    let others: string[] = [];
    // Other Concord stores in the same database, when this one is empty: a CONCORD_STORE_SCHEMA not the writers'.
    let otherStores: string[] = [];
    try {
      pipelines = await ctx.reader.read(async (s) => {
        store.empty = await s.holdsNoResult();
        if (store.empty) otherStores = await s.otherStores();
        const names = new Set(ctx.registry.pipelines.map((p) => p.name));
        const held = store.empty ? [] : await s.pipelines();
        others = held.filter((p) => !names.has(p));
        const totals = await s.totals();
        const out = [];
        for (const def of ctx.registry.pipelines) {
          const t = totals.get(def.name);
          const { last } = await s.extent(def.name);
          const w = t?.watermark ?? null;
          out.push({ pipeline: def.name, kind: def.kind, watermark: isoOrNull(w), lag_ms: w === null ? null : now - w, newest: isoOrNull(last), rows: t?.rows ?? 0, late_events: t?.late ?? 0, dirty_cells: t?.dirty ?? 0 });
        }
        return out;
      });
    } catch (error) {
      if (error instanceof ApiError) throw error; // the server is busy (ReadGate), not the store: 503 with Retry-After
      store.status = error instanceof StoreBusyError ? 'busy' : 'error';
      store.message = error instanceof StoreBusyError ? STORE_LOCKED_MESSAGE : 'the store could not answer (see the server log)';
      ctx.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'status: the store did not answer');
    }
    const empty = store.status === 'ok' && (store.empty || pipelines.every((p) => (p as { rows: number }).rows === 0));
    const hint = others.length > 0 && pipelines.every((p) => (p as { rows: number }).rows === 0)
      ? `the store holds results of ${others.join(', ')}, none of the loaded definitions' pipelines (${ctx.registry.pipelines.map((p) => p.name).join(', ')}): start \`concord serve\` with the --definitions the store was filled with (or CONCORD_DEFINITIONS)`
      : EMPTY_HINT + (otherStores.length > 0 ? `; ${otherStoresSaid(otherStores, ctx.reader.location)}` : '');
    return { server_time: isoMillis(now), store, pipelines, empty, ...(empty ? { hint } : {}), ...(others.length > 0 ? { other_pipelines: others } : {}) };
  });

  app.get<{ Querystring: { pipeline?: string[] } }>('/api/live', {
    schema: {
      tags, summary: 'Server-sent events: new result revisions and alerts, day-version switches, watermarks',
      description: 'text/event-stream. Events: `revision` (a window row, as /windows), `alert` (as /alerts), `version` (a day switched to a version), `watermark`, ' +
        '`resync` (too many rows at once: read again), `store` (the store stopped or resumed answering), `hello`. Rows are sent once per revision; ' +
        'the store is polled about every second while anyone listens.',
      querystring: { type: 'object', additionalProperties: false, properties: { pipeline: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 300 }, description: 'only these pipelines (repeat)' } } },
      response: { 200: { description: 'an event stream', type: 'string' }, ...errors },
    },
  }, async (req, reply) => {
    const only = req.query.pipeline;
    for (const p of only ?? []) if (!ctx.registry.pipelines.some((d) => d.name === p)) throw badParameter('pipeline', `unknown pipeline ${JSON.stringify(p)}`);
    if (ctx.live.listenerCount >= MAX_LIVE_CLIENTS) {
      return sendUnavailable(reply, 'live_clients_full', 5, { error: `too many live clients (at most ${MAX_LIVE_CLIENTS})` });
    }
    const headers = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
    // HEAD: the stream's headers, then the end (a probe must not hold a live-client place for ever).
    if (req.method === 'HEAD') return reply.code(200).headers(headers).send();
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { ...security, ...headers, connection: 'keep-alive' });
    const write = (text: string) => {
      if (raw.destroyed) return;
      raw.write(text);
      if (raw.writableLength > MAX_UNREAD_BYTES) {
        ctx.log.warn({ unread: raw.writableLength }, 'live client dropped: it stopped reading');
        raw.destroy();
      }
    };
    const send = (type: string, data: unknown) => write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    send('hello', { server_time: isoMillis(ctx.now()), poll_ms: ctx.live.pollMs });
    const wanted = only ? new Set(only) : undefined;
    const unsubscribe = ctx.live.subscribe((e: LiveEvent) => {
      if (wanted && e.pipeline !== undefined && !wanted.has(e.pipeline)) return;
      send(e.type, e.data);
    });
    const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
    streams.add(raw);
    ctx.log.info({ clients: ctx.live.listenerCount }, 'live client connected');
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      streams.delete(raw);
      unsubscribe();
      ctx.log.info({ clients: ctx.live.listenerCount }, 'live client left');
    });
    return reply;
  });
}
