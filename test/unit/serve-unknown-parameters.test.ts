import { describe, expect, it } from 'vitest';
import { serveWithoutStore } from '../fixtures/serve-without-store.ts';

// docs/api.md: a 400 names an unknown parameter. The routes that take no query parameter had no query
// schema, so they answered 200 and ignored it: `/api/days/2026-11-23?version=1` showed every version
// as if the version had been applied, `/api/pipelines/X?date=...` the whole pipeline.
describe('concord serve: routes without query parameters refuse one', () => {
  const api = serveWithoutStore();

  it.each([
    ['/api/pipelines?kind=rule', 'kind'],
    ['/api/pipelines/page_views_per_minute?date=2026-11-23', 'date'],
    ['/api/days/2026-11-23?version=1', 'version'],
    ['/api/days/2026-11-23?pipeline=page_views_per_minute', 'pipeline'],
    ['/api/jobs?limit=5', 'limit'],
    ['/api/status?pipeline=page_views_per_minute', 'pipeline'],
  ])('%s: 400 naming %s, the store not read', async (url, parameter) => {
    api.reads = 0;
    const r = await api.server.app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: `${parameter}: is not a parameter of this route`, parameter });
    expect(api.reads).toBe(0);
  });

  // Probes and scrapers are not API clients: Prometheus' `params` and cache-busting queries stay answered.
  it.each(['/healthz?x=1', '/metrics?x=1', '/?x=1'])('%s is answered', async (url) => {
    expect((await api.server.app.inject({ method: 'GET', url })).statusCode).toBe(200);
  });
});
