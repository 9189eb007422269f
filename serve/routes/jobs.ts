import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.ts';
import { ApiError } from '../params.ts';
import { anyObject, errors, noQuery } from '../schemas.ts';
import { JobsUnavailableError } from '../jobs-view.ts';

export function jobRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/api/jobs', {
    schema: {
      tags: ['jobs'], summary: 'BullMQ: queue counts per state, the last run per (kind, pipeline, date) with progress and errors, the workers alive, the nightly schedule',
      description: 'When Redis is configured (`concord serve --redis URL`, or env REDIS_URL); otherwise `enabled: false`. Redis that does not answer within 2 s: 503.',
      querystring: noQuery,
      response: { 200: { type: 'object', properties: { enabled: { type: 'boolean' }, redis: { type: ['string', 'null'] }, counts: anyObject, runs: { type: 'array', items: anyObject }, workers: { type: 'array', items: anyObject }, schedule: { type: ['object', 'null'], additionalProperties: true } } }, ...errors },
    },
  }, async () => {
    const jobs = ctx.jobs;
    if (!jobs) return { enabled: false, redis: null, counts: {}, runs: [], workers: [], schedule: null, hint: 'start `concord serve --redis URL` (or set REDIS_URL) to see the jobs of `concord jobs`' };
    try {
      const [counts, runs, workers, schedule] = await Promise.all([jobs.counts(), jobs.lastRuns(), jobs.workers(), jobs.schedule()]);
      return { enabled: true, redis: jobs.url, counts, runs, workers, schedule };
    } catch (error) {
      if (error instanceof JobsUnavailableError) throw new ApiError(503, error.message, { hint: 'is Redis up? (`npm run infra:up`)', retryAfter: 5, unavailable: 'redis_down' });
      ctx.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'jobs: Redis failed');
      throw new ApiError(503, `Redis at ${jobs.url} failed to answer`, { hint: 'is Redis up? (`npm run infra:up`)', retryAfter: 5, unavailable: 'redis_down' });
    }
  });
}
