import type { FastifyInstance } from 'fastify';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { isoMillis } from '../../pipeline/time.ts';
import type { DayReconciliation } from '../../reconcile/day-report.ts';
import { eventToJson } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import type { StoredLateEvent } from '../../store/store-reader.ts';
import type { ServeContext } from '../context.ts';
import { badParameter, dayOfMs, decodeCursor, encodeCursor, isOffsetCursor, parseDate, parseDayRange, pipelineOf } from '../params.ts';
import { LIMITS, anyObject, cursor, date, errors, limit, page, pipelineParams } from '../schemas.ts';

/** A stored late event on the wire: which event, when it happened, the watermark it met, its window. */
function lateJson(def: PipelineDefinition, l: StoredLateEvent) {
  const r = l.record as { event?: AnyEvent; watermark?: number; windowStart?: number; windowEnd?: number };
  const event = r.event ?? {};
  const t = event[def.schema.timeField];
  return {
    id: String(event[def.schema.idField] ?? ''), event_time: typeof t === 'number' ? isoMillis(t) : null,
    watermark: typeof r.watermark === 'number' && Number.isFinite(r.watermark) ? isoMillis(r.watermark) : null,
    window_start: typeof r.windowStart === 'number' ? isoMillis(r.windowStart) : null, window_end: typeof r.windowEnd === 'number' ? isoMillis(r.windowEnd) : null,
    day: l.day, source: l.source, offset: l.offset, evaluated_on_arrival: l.evaluatedOnArrival, event: eventToJson(event, def.schema),
    // A rule's merge stage fed it out of the canonical order after its partition woke up from idle (not late unless evaluated on arrival).
    ...(l.decidedAfterWakeup ? { decided_after_wakeup: { at: l.decidedAfterWakeup.at === null ? '+infinity' : isoMillis(l.decidedAfterWakeup.at) } } : {}),
  };
}

/**
 * The days of /api/late and /api/pipelines/{pipeline}/late: `date`, or `from`..`to` (default the 31 days
 * up to today). /api/late took no `date` and refused the one its per-pipeline page takes.
 */
function lateDays(q: { date?: string; from?: string; to?: string }, now: number): { fromDay: string; toDay: string } {
  if (q.date !== undefined && (q.from !== undefined || q.to !== undefined)) throw badParameter('date', 'give either date or from/to, not both');
  return q.date !== undefined ? { fromDay: parseDate('date', q.date), toDay: q.date } : parseDayRange(q, { latestDay: dayOfMs(now), defaultDays: 31, maxDays: 366 });
}

const lateCursor = (v: unknown): v is [string, number] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && Number.isSafeInteger(v[1]);

export function lateRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const tags = ['late events and dead letters'];

  app.get<{ Querystring: { date?: string; from?: string; to?: string } }>('/api/late', {
    schema: {
      tags, summary: 'Late events the stream recorded, per pipeline and day', description: '`date`, or dates `from`..`to` inclusive (default the 31 days up to today; at most 366).',
      querystring: { type: 'object', additionalProperties: false, properties: { date, from: date, to: date } },
      response: { 200: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, pipelines: { type: 'array', items: anyObject } } }, ...errors },
    },
  }, async (req) => {
    const { fromDay, toDay } = lateDays(req.query, ctx.now());
    const counts = await ctx.reader.read((s) => s.lateCounts(fromDay, toDay));
    return {
      from: fromDay, to: toDay,
      pipelines: ctx.registry.pipelines.map((p) => {
        const days = counts.filter((c) => c.pipeline === p.name);
        return { pipeline: p.name, total: days.reduce((n, d) => n + d.n, 0), days: days.map((d) => ({ date: d.day, count: d.n })) };
      }),
    };
  });

  app.get<{ Params: { pipeline: string }; Querystring: { date?: string; from?: string; to?: string; limit: number; cursor?: string } }>('/api/pipelines/:pipeline/late', {
    schema: {
      tags, summary: 'A page of a pipeline\'s late events: id, event time, the watermark it met, its window, where it came from',
      description: '`date`, or dates `from`..`to` (default the 31 days up to today; at most 366), ordered by (source, offset).',
      params: pipelineParams,
      querystring: { type: 'object', additionalProperties: false, properties: { date, from: date, to: date, limit: limit(LIMITS.late), cursor } },
      response: { 200: page(anyObject, { pipeline: { type: 'string' } }), ...errors },
    },
  }, async (req) => {
    const def = pipelineOf(ctx.registry, req.params.pipeline);
    const q = req.query;
    const range = lateDays(q, ctx.now());
    const listing = ['late', def.name];
    const after = decodeCursor('cursor', q.cursor, listing, lateCursor);
    const rows = await ctx.reader.read((s) => s.lateEvents(def.name, range.fromDay, range.toDay, { limit: q.limit, ...(after ? { after: { source: after[0], offset: after[1] } } : {}) }));
    const last = rows.at(-1);
    return { pipeline: def.name, from: range.fromDay, to: range.toDay, rows: rows.map((l) => lateJson(def, l)), next_cursor: last && rows.length === q.limit ? encodeCursor(listing, [last.source, last.offset]) : null };
  });

  app.get<{ Querystring: { schema?: string; limit: number; cursor?: string } }>('/api/dead-letters', {
    schema: {
      tags, summary: 'Dead letters (rejected records): counts per pipeline and schema, and a page of examples',
      description: 'Counts and examples come from the archive\'s rejected records (`concord serve --archive DIR`); without it, the counts of each pipeline\'s last reconciliation.',
      querystring: { type: 'object', additionalProperties: false, properties: { schema: { type: 'string', maxLength: 300, description: 'examples of this schema (default: the first with any)' }, limit: limit(LIMITS.deadLetters), cursor } },
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => {
    const q = req.query;
    if (q.schema !== undefined && !ctx.registry.schemas.has(q.schema)) throw badParameter('schema', `${JSON.stringify(q.schema)} is not a schema of the definitions`);
    const view = await ctx.deadLetters.view(); // each folder listed once for the counts and the page
    const counts = view?.counts;
    const last = await ctx.reader.read((s) => s.lastReconciliations());
    const pipelines = ctx.registry.pipelines.map((p) => {
      const rec = last.find((r) => r.pipeline === p.name);
      const evidence = rec ? (JSON.parse(rec.reportJson) as DayReconciliation).report.evidence.dead_letters : null;
      return { pipeline: p.name, schema: p.schema.name, count: counts?.get(p.schema.name) ?? evidence, last_reconciliation: rec ? { date: rec.day, dead_letters: evidence } : null };
    });
    const schema = q.schema ?? [...(counts ?? new Map<string, number>()).entries()].find(([, n]) => n > 0)?.[0];
    // An offset counts the examples of one schema.
    const listing = ['dead-letters', schema ?? null];
    const offset = decodeCursor('cursor', q.cursor, listing, isOffsetCursor) ?? 0;
    const rows = schema === undefined || view === undefined ? [] : await view.page(schema, offset, q.limit);
    return {
      archive: ctx.deadLetters.archive ?? null,
      hint: ctx.deadLetters.archive === undefined ? 'start `concord serve --archive DIR` to read the rejected records the archive keeps' : undefined,
      schemas: counts ? [...counts.entries()].map(([name, count]) => ({ schema: name, count })) : null,
      pipelines, examples: { schema: schema ?? null, rows, next_cursor: rows.length === q.limit ? encodeCursor(listing, offset + rows.length) : null },
    };
  });
}
