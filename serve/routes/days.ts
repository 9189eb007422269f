import type { FastifyInstance } from 'fastify';
import { definitionVersion } from '../../pipeline/definition.ts';
import { isoMillis } from '../../pipeline/time.ts';
import { currentReconciliation, type DayReconciliation } from '../../reconcile/day-report.ts';
import { CAUSES, type Cause } from '../../reconcile/reconcile.ts';
import { dayStatusOf, isSealed, streamReached, versionsOfDay, windowOf } from '../../store/day-status.ts';
import { previousVersionOf, type DayStatus } from '../../store/store-reads.ts';
import type { StoreSnapshot } from '../../store/store-reader.ts';
import type { ServeContext } from '../context.ts';
import { noReconciliationHint } from '../no-reconciliation-hint.ts';
import { ApiError, dayOfMs, decodeCursor, encodeCursor, isCellCursor, isOffsetCursor, isoOrNull, parseDate, parseDayRange, parseVersion, pipelineOf } from '../params.ts';
import { LIMITS, anyObject, cursor, date, dateParams, datePipelineParams, errors, limit, noQuery, page, version } from '../schemas.ts';

/** A reconciliation's headline numbers (the report without its differences). */
export function reconciliationSummary(rec: DayReconciliation) {
  const r = rec.report;
  return {
    status: rec.status, version: rec.generation, previous_version: previousVersionOf(rec), day_status: rec.day_status, reconciled_at: rec.reconciled_at,
    job_id: rec.job_id, corrections: rec.corrections, ...(rec.rechecked ? { rechecked: rec.rechecked } : {}), cells: r.cells, equal: r.equal, different: r.different, causes: r.causes, unexplained: r.unexplained,
    late_events: r.late_events, mismatch_rate: r.metrics.mismatch_rate, smape: r.metrics.smape, metrics: r.metrics, evidence: r.evidence,
    max_out_of_orderness: r.max_out_of_orderness, allowed_lateness: r.allowed_lateness, definition_version: r.definition_version,
  };
}

/**
 * Where the default range of /api/days ends: the newest day with the stream's rows or a stored version.
 * The stream's rows alone left out a day a backfill published past them (`backfill --from/--to` of a day
 * the stream has not reached, or a batch-only store's days older than the default range before now): the
 * dashboard's date picker did not offer it, and a batch-only store read as "No day has results yet".
 */
async function latestDay(s: StoreSnapshot, names: readonly string[], now: number): Promise<string> {
  let latest: string | null = null;
  for (const n of names) {
    const e = await s.extent(n);
    for (const day of [e.last === null ? null : dayOfMs(e.last), await s.newestVersionDay(n)]) {
      if (day !== null && (latest === null || day > latest)) latest = day;
    }
  }
  return latest ?? dayOfMs(now);
}

/** A day (or a version of it) the store's retention deleted: a 404 saying so, not an empty answer. */
export function prunedDay(what: string, at: number): ApiError {
  return new ApiError(404, `${what} was pruned by the store's retention at ${isoMillis(at)}`, { hint: 'the retention (concord prune, retentionDays / retentionVersions) keeps sealed days for a number of days and a number of superseded versions; see docs/operations.md, "Retention"' });
}

/** Per version, the definition versions of its rows with how many rows each (which definition computed what). */
type Definitions = Map<number, Map<string, number>>;
const definitionsOf = (defs: Definitions, g: number) => Object.fromEntries(defs.get(g) ?? []);

/** `streamRows`: the store holds stream rows of the day; without them version 0 is listed only while live (day-status.ts `versionsOfDay`). */
function versionsOf(status: DayStatus, streamRows: boolean, stored: Awaited<ReturnType<StoreSnapshot['versions']>>, switches: Awaited<ReturnType<StoreSnapshot['switches']>>, defs: Definitions) {
  const since = (g: number) => switches.filter((x) => x.generation === g).at(-1)?.at ?? null;
  const realtime = versionsOfDay({ liveGeneration: status.liveGeneration, generations: [], streamRows }).includes(0);
  return [
    ...(!realtime ? [] : [{ version: 0, kind: 'realtime', status: status.liveGeneration === 0 ? 'live' : 'kept', job_id: null, created_at: null, live_since: isoOrNull(since(0)), live: status.liveGeneration === 0, definition_versions: definitionsOf(defs, 0) }]),
    ...stored.map((v) => ({
      version: v.generation, kind: 'reconciled', status: v.status, job_id: v.jobId, created_at: isoMillis(v.createdAt), live_since: isoOrNull(since(v.generation)), live: status.liveGeneration === v.generation,
      definition_versions: definitionsOf(defs, v.generation),
    })),
  ];
}

export function dayRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const tags = ['days'];

  app.get<{ Querystring: { from?: string; to?: string } }>('/api/days', {
    schema: {
      tags, summary: 'Days with results: per pipeline the status (provisional, reconciled, sealed), the live version and the versions',
      description: 'Dates `from`..`to` inclusive (default: the 31 days up to the newest data; at most 92). `versions`: the versions the day has; ' +
        '0 (the stream\'s own numbers) only when the stream wrote rows of the day or 0 is live (a day backfilled into has its recomputed versions alone).',
      querystring: { type: 'object', additionalProperties: false, properties: { from: date, to: date } },
      response: { 200: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, days: { type: 'array', items: anyObject } } }, ...errors },
    },
  }, async (req) => ctx.reader.read(async (s) => {
    const names = ctx.registry.pipelines.map((p) => p.name);
    const { fromDay, toDay } = parseDayRange(req.query, { latestDay: await latestDay(s, names, ctx.now()), defaultDays: 31, maxDays: 92 });
    const watermarks = await s.watermarks();
    const byDay = new Map<string, unknown[]>();
    for (const name of names) {
      const states = await s.dayStates(name, fromDay, toDay);
      for (const [day, st] of [...states].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const sealed = isSealed(day, watermarks.get(name), ctx.reader.sealDelayMs, windowOf(ctx.registry, name));
        const rec = st.reconciliations.at(-1);
        if (!byDay.has(day)) byDay.set(day, []);
        byDay.get(day)!.push({
          pipeline: name, status: dayStatusOf({ sealed, liveGeneration: st.liveGeneration }), stream_reached: streamReached(day, watermarks.get(name)),
          live_version: st.liveGeneration, versions: versionsOfDay(st),
          reconciliation: rec ? { status: rec.status, version: rec.generation, at: isoMillis(rec.at) } : null,
        });
      }
    }
    return { from: fromDay, to: toDay, empty: await s.holdsNoResult(), days: [...byDay.entries()].sort(([a], [b]) => (a < b ? 1 : -1)).map(([d, pipelines]) => ({ date: d, pipelines })) };
  }));

  app.get<{ Params: { date: string } }>('/api/days/:date', {
    schema: {
      tags, summary: 'One day: per pipeline its status, version history, late events and reconciliation headline (cells, equal, different, causes, mismatch rate, SMAPE)',
      params: dateParams, querystring: noQuery, response: { 200: { type: 'object', properties: { date: { type: 'string' }, pipelines: { type: 'array', items: anyObject } } }, ...errors },
    },
  }, async (req) => {
    const day = parseDate('date', req.params.date);
    return ctx.reader.read(async (s) => {
      const late = await s.lateCounts(day, day);
      const pipelines = [];
      for (const def of ctx.registry.pipelines) {
        const status = await s.store.status(def.name, day);
        const [stored, switches, recs, defs, streamDays] = await Promise.all([
          s.versions(def.name, day), s.switches(def.name, { day, limit: 1000 }), s.store.reconciliations(def.name, day), s.store.definitionVersionsByVersion(def.name, day),
          s.streamDays(def.name, day, day),
        ]);
        const rec = currentReconciliation(recs);
        const lateEvents = late.find((l) => l.pipeline === def.name)?.n ?? 0;
        // A day the pipeline holds nothing for is still `sealed` once W passed it (a late write would be held);
        // `empty` tells a reader there is nothing to see rather than a finished day (as `concord report` says).
        const empty = await s.store.holdsNothing(def.name, day);
        const prunedAt = empty ? await s.store.prunedAt(def.name, day) : null;
        pipelines.push({
          ...(prunedAt === null ? {} : { pruned_at: isoMillis(prunedAt) }),
          pipeline: def.name, kind: def.kind, status: status.status, day_status: status.status, empty, stream_reached: streamReached(day, status.watermark), live_version: status.liveGeneration,
          watermark: isoOrNull(status.watermark), dirty_cells: status.dirty, late_delta: status.lateDelta,
          late_events: lateEvents,
          versions: versionsOf(status, streamDays.length > 0, stored, switches, defs),
          switches: switches.map((x) => ({ version: x.generation, previous: x.previous, reason: x.reason, at: isoMillis(x.at) })),
          reconciliation: rec ? reconciliationSummary(rec) : null, reconciliations: recs.length,
        });
      }
      // Every pipeline's day deleted by the retention (none holds anything): the day is gone, said so.
      const pruned = pipelines.map((p) => p.pruned_at);
      if (pruned.length > 0 && pipelines.every((p) => p.empty) && pruned.some((at) => at !== undefined)) {
        throw prunedDay(day, Math.max(...pruned.filter((at) => at !== undefined).map((at) => Date.parse(at))));
      }
      return { date: day, empty: await s.holdsNoResult(), pipelines };
    });
  });

  app.get<{ Params: { date: string; pipeline: string }; Querystring: { cause?: Cause; limit: number; cursor?: string } }>('/api/days/:date/pipelines/:pipeline/report', {
    schema: {
      tags, summary: 'The reconciliation report of a date: headline numbers, causes, and a page of the differences with their late events',
      params: datePipelineParams,
      querystring: { type: 'object', additionalProperties: false, properties: { cause: { type: 'string', enum: [...CAUSES] }, limit: limit(LIMITS.differences), cursor } },
      response: { 200: { type: 'object', additionalProperties: true, properties: { differences_total: { type: 'integer' }, differences: { type: 'array', items: anyObject }, next_cursor: { type: ['string', 'null'] } } }, ...errors },
    },
  }, async (req) => {
    const day = parseDate('date', req.params.date);
    const def = pipelineOf(ctx.registry, req.params.pipeline);
    // An offset counts rows of the list the cause filters.
    const listing = ['report', def.name, day, req.query.cause ?? null];
    const offset = decodeCursor('cursor', req.query.cursor, listing, isOffsetCursor) ?? 0;
    const [recs, prunedAt] = await ctx.reader.read(async (s) => [await s.store.reconciliations(def.name, day), await s.store.prunedAt(def.name, day)] as const);
    const rec = currentReconciliation(recs);
    if (!rec && prunedAt !== null) throw prunedDay(`${def.name} ${day}`, prunedAt);
    if (!rec) {
      const byVersion = await ctx.reader.read((s) => s.store.definitionVersionsByVersion(def.name, day));
      throw new ApiError(404, `${def.name} has no reconciliation of ${day}`, { hint: noReconciliationHint(day, def.name, byVersion, definitionVersion(def)) });
    }
    const all = req.query.cause === undefined ? rec.report.differences : rec.report.differences.filter((d) => d.cause === req.query.cause);
    const differences = all.slice(offset, offset + req.query.limit);
    return {
      date: day, pipeline: def.name, ...reconciliationSummary(rec), reconciliations: recs.length, differences_total: all.length, differences,
      next_cursor: offset + differences.length < all.length ? encodeCursor(listing, offset + differences.length) : null,
    };
  });

  app.get<{ Params: { date: string; pipeline: string }; Querystring: { from_version?: string; to_version?: string; only: 'different' | 'all'; limit: number; cursor?: string } }>(
    '/api/days/:date/pipelines/:pipeline/compare', {
      schema: {
        tags, summary: 'What changed between two versions of a day: the cells of both side by side',
        description: 'Default: realtime (version 0) against the live version; `only=all` also lists equal cells. Ordered by (window_start, key).',
        params: datePipelineParams,
        querystring: {
          type: 'object', additionalProperties: false,
          properties: { from_version: version, to_version: version, only: { type: 'string', enum: ['different', 'all'], default: 'different' }, limit: limit(LIMITS.compare), cursor },
        },
        response: {
          200: page({ type: 'object', additionalProperties: true }, {
            from_version: { type: 'integer' }, to_version: { type: 'integer' }, from_definition_versions: anyObject, to_definition_versions: anyObject, note: { type: 'string' },
          }),
          ...errors,
        },
      },
    }, async (req) => {
      const day = parseDate('date', req.params.date);
      const def = pipelineOf(ctx.registry, req.params.pipeline);
      const q = req.query;
      const a = parseVersion('from_version', q.from_version ?? 'realtime');
      const b = parseVersion('to_version', q.to_version);
      const listing = ['compare', def.name, day];
      const after = decodeCursor('cursor', q.cursor, listing, isCellCursor);
      return ctx.reader.read(async (s) => {
        const state = (await s.dayStates(def.name, day, day)).get(day);
        const live = state?.liveGeneration ?? 0;
        const from = a === 'live' ? live : a, to = b === 'live' ? live : b;
        // A version the day never had is asked for by mistake: not an empty comparison. Version 0 too, on a
        // day the stream never wrote (backfilled into it): the default `from_version=realtime` says so.
        const versions = versionsOfDay(state ?? { liveGeneration: 0, generations: [], streamRows: false });
        const prunedAt = state === undefined ? await s.store.prunedAt(def.name, day) : null;
        if (prunedAt !== null) throw prunedDay(`${def.name} ${day}`, prunedAt);
        const pruned = new Map((await s.versions(def.name, day)).filter((x) => x.status === 'pruned').map((x) => [x.generation, x]));
        for (const [parameter, v] of [['from_version', from], ['to_version', to]] as const) {
          if (pruned.has(v)) throw new ApiError(404, `version ${v} of ${def.name} ${day} was pruned by the store's retention (retentionVersions): its rows are gone`, { parameter, hint: `its versions with rows: ${versions.filter((x) => !pruned.has(x)).join(', ')} (GET /api/days/${day} lists them)` });
          const why = v === 0 ? ': the stream never wrote the day (its versions were recomputed from the archive, e.g. a pipeline added later and backfilled)' : '';
          if (!versions.includes(v)) throw new ApiError(404, `${def.name} ${day} has no version ${v}${why}`, { parameter, hint: `its versions: ${versions.join(', ')} (GET /api/days/${day} lists them)` });
        }
        const rows = await s.compare(def.name, day, from, to, { onlyDifferent: q.only === 'different', limit: q.limit, ...(after ? { after: { windowStart: after[0], cell: after[1] } } : {}) });
        const last = rows.at(-1);
        // Cells are matched by window start and key: under two definitions (a changed window, a renamed
        // aggregate) such a match compares unlike cells, which the answer says.
        const defs = await s.store.definitionVersionsByVersion(def.name, day);
        const [fromDefs, toDefs] = [definitionsOf(defs, from), definitionsOf(defs, to)];
        const same = JSON.stringify(Object.keys(fromDefs).sort()) === JSON.stringify(Object.keys(toDefs).sort());
        return {
          date: day, pipeline: def.name, from_version: from, to_version: to, live_version: live,
          from_definition_versions: fromDefs, to_definition_versions: toDefs,
          ...(same ? {} : { note: `versions ${from} and ${to} were computed by different definitions: cells are matched by window start and key, so a changed window or aggregate compares unlike cells` }),
          rows: rows.map((r) => ({
            [r.kind === 'window' ? 'window_start' : 'ts']: isoMillis(r.windowStart), ...(r.windowEnd === null ? {} : { window_end: isoMillis(r.windowEnd) }),
            key: r.key, from: r.a, to: r.b, differs: r.differs,
          })),
          next_cursor: last && rows.length === q.limit ? encodeCursor(listing, [last.windowStart, last.cell]) : null,
        };
      });
    });
}
