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

// /top?window= an instant where no window starts answered 200 with no key, as if no key had a value.
describe('concord serve: /top of a window that does not exist', () => {
  const api = serveWithoutStore();

  it.each([
    ['page_views_per_minute', '2026-11-23T10:00:30Z', /^window: 2026-11-23T10:00:30\.000Z is no window start of page_views_per_minute: its windows start every 1m \(the one before is 2026-11-23T10:00:00\.000Z\)$/],
    ['unique_visitors_5m', '2026-11-23T10:01:00Z', /^window: 2026-11-23T10:01:00\.000Z is no window start of unique_visitors_5m: its windows start every 5m \(the one before is 2026-11-23T10:00:00\.000Z\)$/],
  ])('%s at %s: 400 naming the start before it, the store not read', async (pipeline, window, message) => {
    api.reads = 0;
    const r = await api.server.app.inject({ method: 'GET', url: `/api/pipelines/${pipeline}/top?window=${window}` });
    expect(r.statusCode).toBe(400);
    expect((r.json() as { error: string; parameter: string }).error).toMatch(message);
    expect((r.json() as { parameter: string }).parameter).toBe('window');
    expect(api.reads).toBe(0);
  });

  it('a window start is taken (the request reaches the store)', async () => {
    api.reads = 0;
    await api.server.app.inject({ method: 'GET', url: '/api/pipelines/page_views_per_minute/top?window=2026-11-23T10:05:00Z' });
    expect(api.reads).toBe(1);
  });
});

// `?asOf=2026-11-23T10:00:00+01:00` typed as is: the query's + decodes to a space, and the 400 said
// "use an ISO 8601 instant with Z or an offset", which the user had given (from/to: serve-instant-range).
describe('concord serve: an offset whose + a URL query turned into a space', () => {
  const api = serveWithoutStore();

  it('400 saying to write the + percent-encoded, the store not read', async () => {
    api.reads = 0;
    const r = await api.server.app.inject({ method: 'GET', url: '/api/pipelines/page_views_per_minute/windows?asOf=2026-11-23T10:00:00+01:00' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({
      error: "asOf: the offset's + arrived as a space (a + in a URL query means a space): write it %2B (2026-11-23T10:00:00%2B01:00) or use Z",
      parameter: 'asOf',
    });
    expect(api.reads).toBe(0);
  });
});

// `/late?from=2026-11-23T00:00:00Z` (an instant where a day is taken, as a Grafana time range gives it)
// answered Ajv's "from: must NOT have more than 10 characters".
describe('concord serve: an instant given where a day is taken', () => {
  const api = serveWithoutStore();

  it.each([
    ['/api/late?from=2026-11-23T00:00:00Z', 'from'],
    ['/api/pipelines/page_views_per_minute/late?to=2026-11-23T00:00:00.000Z', 'to'],
    ['/api/late?from=2026-11-01&to=2026-11-23T00:00:00%2B01:00', 'to'],
    ['/api/days/2026-11-23T00:00:00Z', 'date'],
  ])('%s: 400 saying to give the day, the store not read', async (url, parameter) => {
    api.reads = 0;
    const r = await api.server.app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: `${parameter}: use a UTC date YYYY-MM-DD (this parameter takes a day, not an instant: 2026-11-23)`, parameter });
    expect(api.reads).toBe(0);
  });
});
