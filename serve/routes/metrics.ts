import type { FastifyInstance } from 'fastify';
import type { ServeMetrics } from '../metrics.ts';

/** The media type of Prometheus' text exposition format 0.0.4, as prom-client sends it. */
export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * `/metrics`, in the OpenAPI document with its media type: a Grafana or Prometheus user reading
 * /api/openapi.json looks for the scrape route there. No query schema: a scraper's `params` stay answered.
 */
export function metricsRoute(app: FastifyInstance, metrics: ServeMetrics): void {
  app.get('/metrics', {
    schema: {
      tags: ['operations'], summary: 'Prometheus metrics of this server and of the store it reads (text exposition format 0.0.4)',
      description: 'Scrape it as a Prometheus target; the names and labels are listed in docs/operations.md ("Metrics"). The store\'s figures are read at most every 10 s. Query parameters are ignored.',
      response: { 200: { description: 'the metrics in Prometheus text format', content: { [PROMETHEUS_TEXT]: { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
}
