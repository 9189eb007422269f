import type { FastifyInstance } from 'fastify';
import { definitionVersion, type PipelineDefinition, type WindowedPipeline } from '../../pipeline/definition.ts';
import { formatDuration, isoMillis } from '../../pipeline/time.ts';
import { windowEnd, windowOffset, windowStartAtOrBefore, windowStep } from '../../pipeline/windows.ts';
import { presentCondition } from '../../pipeline/filter.ts';
import { fieldTypeName, presentValue } from '../../schemas/schema.ts';
import { exactDigitsOf } from '../../store/rows.ts';
import type { StoreSnapshot } from '../../store/store-reader.ts';
import { TOP_RANKS, type TopRank } from '../../store/store-snapshot.ts';
import type { ServeContext } from '../context.ts';
import { rangeDays, rangeDaysSchema } from '../range-days.ts';
import {
  ApiError, DAY, HOUR, alertJson, badParameter, cellOfKey, decodeCursor, encodeCursor, isCellCursor, isoOrNull, keyFields, parseInstant, parseKey,
  dayOfMs, parseRange, parseVersion, pipelineOf, windowJson,
} from '../params.ts';
import { LIMITS, alertRow, anyObject, cursor, date, errors, keyParameter, instant, limit, noQuery, page, pipelineParams, version, windowRow } from '../schemas.ts';

/** A pipeline as the API describes it: what it computes, its B and L, its definition version. */
export function describePipeline(def: PipelineDefinition) {
  const common = {
    name: def.name, kind: def.kind, input: def.schema.name, description: def.description ?? null, key: keyFields(def), where: def.where.map((c) => presentCondition(def.schema, c)),
    max_out_of_orderness: formatDuration(def.watermark.maxOutOfOrderness), allowed_lateness: formatDuration(def.allowedLateness),
    max_out_of_orderness_ms: def.watermark.maxOutOfOrderness, allowed_lateness_ms: def.allowedLateness, definition_version: definitionVersion(def),
  };
  if (def.kind === 'windowed') {
    const w = def.window;
    return {
      ...common, field_types: fieldTypesOf(def, def.aggregates.flatMap((a) => ('field' in a.aggregate ? [a.aggregate.field] : []))),
      window: { kind: w.kind, size: formatDuration(w.size), size_ms: w.size, ...(w.kind === 'hopping' ? { every: formatDuration(w.slide), every_ms: w.slide } : {}),
        // Where windows start past the epoch's alignment, in [0, step): 0 for most pipelines.
        offset: formatDuration(windowOffset(w)), offset_ms: windowOffset(w) },
      aggregates: def.aggregates.map((a) => ({
        name: a.output, fn: a.aggregate.kind, ...('field' in a.aggregate ? { field: a.aggregate.field } : {}), ...('precision' in a.aggregate ? { precision: a.aggregate.precision } : {}),
        ...('quantile' in a.aggregate ? { quantile: a.aggregate.quantile } : {}),
        // An aggregate's own filter, as the file writes it; absent without one.
        ...(a.where ? { where: a.where.map((c) => presentCondition(def.schema, c)) } : {}),
      })),
      rule: null,
    };
  }
  const r = def.rule;
  const threshold = r.field === undefined ? r.threshold : presentValue(def.schema.fields[r.field], r.threshold);
  return { ...common, field_types: fieldTypesOf(def, r.field === undefined ? [] : [r.field]), window: null, aggregates: null, rule: { measure: r.measure, ...(r.field === undefined ? {} : { field: r.field }), within: formatDuration(r.span), within_ms: r.span, more_than: threshold, output: r.output } };
}

/**
 * The types of the fields a pipeline's aggregates (or rule) read, as the definitions file writes them
 * (`decimal(2)`, `double`, `timestamp`): what a value's unit is (major units of a decimal, epoch ms of a
 * timestamp), so a chart can say it.
 */
function fieldTypesOf(def: PipelineDefinition, fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const type = def.schema.fields[f];
    if (type) out[f] = fieldTypeName(type);
  }
  return out;
}

/** Where a default range ends: after the newest window (alert) of the pipeline; null: now. Read only when the range needs it. */
/**
 * A version number no day of the range has is asked for by mistake: 404, as /compare answers, not an
 * empty page. Version 0, the stream's, and `live` are read on every day: a day the stream never wrote
 * (backfilled into) answers no row of version 0, and its `days[].version` says null (range-days.ts).
 */
async function requireVersion(s: StoreSnapshot, def: PipelineDefinition, range: { from: number; to: number }, ver: 'live' | number): Promise<void> {
  if (ver === 'live' || ver === 0) return;
  const fromDay = dayOfMs(range.from), toDay = dayOfMs(Math.max(range.from, range.to - 1));
  const states = await s.dayStates(def.name, fromDay, toDay);
  if ([...states.values()].some((d) => d.generations.includes(ver))) return;
  throw new ApiError(404, `${def.name} has no version ${ver} of any day from ${fromDay} to ${toDay}`, {
    parameter: 'version', hint: 'GET /api/days lists each day\'s versions; version=live or version=realtime reads every day',
  });
}

async function newestEnd(s: StoreSnapshot, def: PipelineDefinition, q: { date?: string; to?: string }): Promise<number | null> {
  if (q.date !== undefined || q.to !== undefined) return null;
  const { last } = await s.extent(def.name);
  return last === null ? null : last + (def.kind === 'windowed' ? def.window.size : 1);
}

/**
 * `window` of /top: an instant where a window of the pipeline starts. Another instant was answered with
 * no key at all, which read as "no key had a value" (found 2026-12-06): refused, naming the start before it.
 */
function windowStartOf(def: WindowedPipeline, text: string): number {
  const w = parseInstant('window', text);
  const start = windowStartAtOrBefore(def.window, w);
  if (start !== w) {
    throw badParameter('window', `${isoMillis(w)} is no window start of ${def.name}: its windows start every ${formatDuration(windowStep(def.window))} (the one before is ${isoMillis(start)})`);
  }
  return w;
}

/** `by` of /top and /windows?top: an aggregate of the windowed pipeline, default its first. */
function aggregateOf(def: PipelineDefinition & { kind: 'windowed' }, by: string | undefined): string {
  const name = by ?? def.aggregates[0]!.output;
  if (!def.aggregates.some((a) => a.output === name)) throw badParameter('by', `${JSON.stringify(name)} is not an aggregate of ${def.name}; aggregates: ${JSON.stringify(def.aggregates.map((a) => a.output))}`);
  return name;
}

/** `rank` of /top and /windows?top: how a key's windows make the number it is ranked by (store-snapshot.ts TopRank). */
const rankChoice = {
  type: 'string', enum: [...TOP_RANKS],
  description: 'how a key\'s windows in the range make its `total`: `sum` (default) adds them up (a count or a sum of windows that do not overlap: the total of the range); `max` / `min` the largest / smallest window (max_over_time / min_over_time: for a max, a min, a percentile, a distinct count, or a hopping window\'s count); `mean` the windows\' plain mean (avg_over_time: for an average). Keys are ranked largest first',
} as const;

const topKeys = { type: 'array', items: { type: 'object', properties: { key: anyObject, total: { type: ['number', 'null'] }, windows: { type: 'integer' } } } } as const;

const pipelineAnswer = { type: 'object', additionalProperties: true, description: 'name, kind, input, key, window, aggregates or rule, B and L, definition_version; field_types: the type of each field the aggregates or the rule read, as the definitions file writes it (`decimal(2)`: values in major units; `timestamp`: epoch ms)' } as const;

const rangeQuery = {
  date, from: instant, to: instant,
} as const;

export function pipelineRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const tags = ['pipelines'];

  app.get('/api/pipelines', {
    schema: { tags, summary: 'The loaded definitions', querystring: noQuery, response: { 200: { type: 'object', properties: { pipelines: { type: 'array', items: pipelineAnswer } } } } },
  }, async () => ({ pipelines: ctx.registry.pipelines.map(describePipeline) }));

  app.get<{ Params: { pipeline: string } }>('/api/pipelines/:pipeline', {
    schema: { tags, summary: 'One pipeline, with what the store holds of it', params: pipelineParams, querystring: noQuery, response: { 200: pipelineAnswer, ...errors } },
  }, async (req) => {
    const def = pipelineOf(ctx.registry, req.params.pipeline);
    const store = await ctx.reader.read(async (s) => {
      const [extent, totals] = await Promise.all([s.extent(def.name, true), s.totals()]);
      const t = totals.get(def.name);
      const w = t?.watermark ?? null;
      return {
        rows: extent.rows, first: isoOrNull(extent.first), last: isoOrNull(extent.last), watermark: isoOrNull(w),
        watermark_lag_ms: w === null ? null : ctx.now() - w, late_events: t?.late ?? 0, dirty_cells: t?.dirty ?? 0,
      };
    });
    return { ...describePipeline(def), store };
  });

  app.get<{ Params: { pipeline: string }; Querystring: { date?: string; from?: string; to?: string; key?: string[]; top?: number; by?: string; rank?: TopRank; asOf?: string; version?: string; limit: number; cursor?: string } }>(
    '/api/pipelines/:pipeline/windows', {
      schema: {
        tags, summary: 'Window results of a windowed pipeline by time range and keys, live, at a version, or as of a past instant',
        description: `Rows ordered by (window_start, key); the range is on window_start: \`date\`, or \`from\`..\`to\` (to exclusive; default the 6 h before the newest window; at most 31 days). \`asOf\`: what the table said at that instant. \`top\` (instead of \`key\`): only the windows of the range's top-N keys by \`by\`, ranked as /top ranks them over the same range (at most 2 days), listed in the answer's \`top\`. At most ${LIMITS.windows.max} rows a page.`,
        params: pipelineParams,
        querystring: {
          type: 'object', additionalProperties: false,
          properties: {
            ...rangeQuery, key: keyParameter('a key: JSON object of the key fields, or a one-field key\'s value; repeat for several'),
            top: { type: 'integer', minimum: 1, maximum: LIMITS.top.max, description: 'instead of key: the windows of the range\'s top-N keys by `by` (as /top ranks them; the range at most 2 days); a request that does not carry the keys, however long they are' },
            by: { type: 'string', maxLength: 300, description: 'with top: the aggregate the keys are ranked by (default the first)' },
            rank: { ...rankChoice, description: `with top (default sum): ${rankChoice.description}` },
            asOf: instant, version, limit: limit(LIMITS.windows), cursor,
          },
        },
        response: { 200: page(windowRow, { pipeline: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, version: {}, as_of: { type: ['string', 'null'] }, days: rangeDaysSchema, rank: { type: 'string', description: 'with top: how the keys were ranked' }, top: { ...topKeys, description: 'with top: the ranked keys (as /top answers them); absent otherwise' } }), ...errors },
      },
    }, async (req) => {
      const def = pipelineOf(ctx.registry, req.params.pipeline);
      if (def.kind !== 'windowed') throw badParameter('pipeline', `${def.name} is a rule pipeline: its results are alerts (/api/pipelines/{pipeline}/alerts)`);
      const q = req.query;
      if (q.asOf !== undefined && q.version !== undefined) throw badParameter('asOf', 'give asOf or version, not both');
      const asOf = q.asOf === undefined ? undefined : parseInstant('asOf', q.asOf);
      const ver = parseVersion('version', q.version);
      if (q.by !== undefined && q.top === undefined) throw badParameter('by', 'by ranks the keys of top: give top too');
      if (q.rank !== undefined && q.top === undefined) throw badParameter('rank', 'rank says how the keys of top are ranked: give top too');
      if (q.top !== undefined && q.key !== undefined) throw badParameter('top', 'give key or top, not both');
      if (q.top !== undefined && asOf !== undefined) throw badParameter('top', 'top ranks the keys of a version (version=...), not of asOf');
      const by = q.top === undefined ? undefined : aggregateOf(def, q.by);
      const cells = (q.key ?? []).map((k) => cellOfKey(parseKey(def, k)));
      const listing = ['windows', def.name];
      const after = decodeCursor('cursor', q.cursor, listing, isCellCursor);
      return ctx.reader.read(async (s) => {
        const range = parseRange(q, { end: await newestEnd(s, def, q), defaultSpan: 6 * HOUR, maxSpan: q.top === undefined ? 31 * DAY : 2 * DAY });
        if (asOf === undefined) await requireVersion(s, def, range, ver);
        // top: the keys ranked in this same snapshot, so the rows are those of exactly the keys listed.
        const top = by === undefined ? undefined : await s.top(def.name, { ...range, aggregate: by, n: q.top!, version: ver, decimals: exactDigitsOf(def, by), rank: q.rank ?? 'sum' });
        if (top) cells.push(...top.map((k) => k.cell));
        const rows = top?.length === 0 ? [] : await s.rows(def.name, {
          ...range, kind: 'window', version: asOf === undefined ? ver : { asOf }, cells, limit: q.limit,
          ...(after ? { after: { windowStart: after[0], cell: after[1] } } : {}),
        });
        const last = rows.at(-1);
        return {
          pipeline: def.name, from: isoMillis(range.from), to: isoMillis(range.to), version: asOf === undefined ? ver : null, as_of: asOf === undefined ? null : isoMillis(asOf),
          days: await rangeDays(s, def, range, asOf === undefined ? ver : { asOf }, ctx.reader.sealDelayMs),
          ...(top ? { rank: q.rank ?? 'sum', top: top.map((k) => ({ key: k.key, total: k.total, windows: k.windows })) } : {}),
          rows: rows.map(windowJson), next_cursor: last && rows.length === q.limit ? encodeCursor(listing, [last.windowStart, last.cell]) : null,
        };
      });
    });

  app.get<{ Params: { pipeline: string }; Querystring: { by?: string; rank: TopRank; n: number; window?: string; date?: string; from?: string; to?: string; version?: string } }>(
    '/api/pipelines/:pipeline/top', {
      schema: {
        tags, summary: 'The top-N keys of a window (or of a range of windows) by an aggregate',
        description: '`window`: one window\'s start: its values, the answer\'s `from`..`to` that window\'s start and end (an instant where no window starts: 400, naming the start before it). Otherwise a range (`date`, or `from`..`to`, default the hour before the newest window, at most 2 days): each key\'s windows combined as `rank` says (default: summed).',
        params: pipelineParams,
        querystring: {
          type: 'object', additionalProperties: false,
          properties: { by: { type: 'string', maxLength: 300, description: 'an aggregate of the pipeline (default its first)' }, rank: { ...rankChoice, default: 'sum' }, n: limit(LIMITS.top), window: instant, ...rangeQuery, version },
        },
        response: { 200: { type: 'object', properties: { pipeline: { type: 'string' }, by: { type: 'string' }, rank: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, days: rangeDaysSchema, keys: topKeys } }, ...errors },
      },
    }, async (req) => {
      const def = pipelineOf(ctx.registry, req.params.pipeline);
      if (def.kind !== 'windowed') throw badParameter('pipeline', `${def.name} is a rule pipeline: it has no aggregates`);
      const q = req.query;
      const by = aggregateOf(def, q.by);
      if (q.window !== undefined && (q.date ?? q.from ?? q.to) !== undefined) throw badParameter('window', 'give window or a range (date, from, to), not both');
      const ver = parseVersion('version', q.version);
      const window = q.window === undefined ? undefined : windowStartOf(def, q.window);
      return ctx.reader.read(async (s) => {
        // The read is on window_start, so one window is the range [start, start + 1 ms): a hopping window's
        // neighbours start inside its span. The answer's `to` is where that window ends, not the read's bound.
        const range = window !== undefined ? { from: window, to: window + 1 } : parseRange(q, { end: await newestEnd(s, def, q), defaultSpan: HOUR, maxSpan: 2 * DAY });
        const to = window !== undefined ? windowEnd(def.window, window) : range.to;
        await requireVersion(s, def, range, ver);
        const keys = await s.top(def.name, { ...range, aggregate: by, n: q.n, version: ver, decimals: exactDigitsOf(def, by), rank: q.rank });
        return {
          pipeline: def.name, by, rank: q.rank, from: isoMillis(range.from), to: isoMillis(to), version: ver, days: await rangeDays(s, def, range, ver, ctx.reader.sealDelayMs),
          keys: keys.map((k) => ({ key: k.key, total: k.total, windows: k.windows })),
        };
      });
    });

  app.get<{ Params: { pipeline: string }; Querystring: { date?: string; from?: string; to?: string; key?: string[]; version?: string; order?: 'asc' | 'desc'; limit: number; cursor?: string } }>(
    '/api/pipelines/:pipeline/alerts', {
      schema: {
        tags, summary: 'Alerts of a rule pipeline by time range and key',
        description: 'Ordered by (ts, key, id), `order=desc` newest first; the range is on the alert\'s ts: `date`, or `from`..`to` (default the 24 h before the newest alert, at most 31 days).',
        params: pipelineParams,
        querystring: {
          type: 'object', additionalProperties: false,
          properties: {
            ...rangeQuery, key: keyParameter('the rule key\'s value (or a JSON object); repeat for several'),
            version, order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' }, limit: limit(LIMITS.alerts), cursor,
          },
        },
        response: { 200: page(alertRow, { pipeline: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, version: {}, days: rangeDaysSchema }), ...errors },
      },
    }, async (req) => {
      const def = pipelineOf(ctx.registry, req.params.pipeline);
      if (def.kind !== 'rule') throw badParameter('pipeline', `${def.name} is a windowed pipeline: read its windows (/api/pipelines/{pipeline}/windows)`);
      const q = req.query;
      const ver = parseVersion('version', q.version);
      const keys = (q.key ?? []).map((k) => JSON.stringify(parseKey(def, k)));
      // The order is the position's direction: an ascending page's last row starts no descending page.
      const listing = ['alerts', def.name, q.order];
      const after = decodeCursor('cursor', q.cursor, listing, isCellCursor);
      return ctx.reader.read(async (s) => {
        const range = parseRange(q, { end: await newestEnd(s, def, q), defaultSpan: DAY, maxSpan: 31 * DAY });
        await requireVersion(s, def, range, ver);
        const rows = await s.rows(def.name, {
          ...range, kind: 'alert', version: ver, keys, limit: q.limit, desc: q.order === 'desc',
          ...(after ? { after: { windowStart: after[0], cell: after[1] } } : {}),
        });
        const last = rows.at(-1);
        return {
          pipeline: def.name, from: isoMillis(range.from), to: isoMillis(range.to), version: ver, days: await rangeDays(s, def, range, ver, ctx.reader.sealDelayMs),
          rows: rows.map((r) => alertJson(def, r)), next_cursor: last && rows.length === q.limit ? encodeCursor(listing, [last.windowStart, last.cell]) : null,
        };
      });
    });
}
