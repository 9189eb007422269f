import { describe, expect, it } from 'vitest';
import { serveWithoutStore } from '../fixtures/serve-without-store.ts';

// Ajv coerces "Infinity" and 1e400 to Infinity, which passes `type: integer` and skips the schema's
// minimum and maximum: `?limit=Infinity` reached the store as `LIMIT Infinity` (500, "the store could not
// answer"), and the routes that page in memory (a day's differences, dead letters) answered every row.
// Such a value is no whole number in decimal digits: refused as that (serve-whole-numbers.test.ts).
describe('concord serve: numeric parameters are finite', () => {
  const api = serveWithoutStore();

  it.each([
    ['/api/pipelines/page_views_per_minute/windows?limit=Infinity', 'limit'],
    ['/api/pipelines/page_views_per_minute/windows?limit=1e400', 'limit'],
    ['/api/pipelines/page_views_per_minute/windows?top=Infinity', 'top'],
    ['/api/pipelines/page_views_per_minute/top?n=Infinity', 'n'],
    ['/api/pipelines/fraud_multi_country/alerts?limit=Infinity', 'limit'],
    ['/api/pipelines/fraud_multi_country/late?limit=Infinity', 'limit'],
    ['/api/days/2026-11-23/pipelines/page_views_per_minute/report?limit=Infinity', 'limit'],
    ['/api/days/2026-11-23/pipelines/page_views_per_minute/compare?limit=Infinity', 'limit'],
    ['/api/dead-letters?limit=Infinity', 'limit'],
  ])('%s: 400 naming %s, the store not read', async (url, parameter) => {
    api.reads = 0;
    const r = await api.server.app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: expect.stringMatching(new RegExp(`^${parameter}: use a whole number 1\\.\\.\\d+, in decimal digits`)), parameter });
    expect(api.reads).toBe(0);
  });
});
