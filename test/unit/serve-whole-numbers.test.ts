import { describe, expect, it } from 'vitest';
import { serveWithoutStore } from '../fixtures/serve-without-store.ts';

// A row limit (or `n`, `top`) is a whole number written in decimal digits. Ajv's coercion read it as
// JavaScript's Number() does: `limit=1e3` was a page of 1000 rows, `0x10` one of 16, ` 10` and `+10`
// one of 10 (seen in a walkthrough, session 35); `10.5` and `10abc` said "must be integer" without the
// bounds. Each is a 400 naming the parameter and what it takes, before the store is read.
describe('concord serve: whole-number parameters', () => {
  const api = serveWithoutStore();
  const P = '/api/pipelines/page_views_per_minute';

  it.each(['1e3', '10.5', '10abc', ' 10', '0x10', '+10', '-1', '0', '5001', '', 'Infinity', '99999999999999999999'])('limit=%j: 400 naming limit and 1..5000', async (value) => {
    api.reads = 0;
    const r = await api.server.app.inject({ method: 'GET', url: `${P}/windows?limit=${encodeURIComponent(value)}` });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'limit: use a whole number 1..5000, in decimal digits (default 1000)', parameter: 'limit' });
    expect(api.reads).toBe(0);
  });

  it.each([
    [`${P}/top?n=1e1`, 'n: use a whole number 1..100, in decimal digits (default 10)'],
    [`${P}/windows?top=0x5`, 'top: use a whole number 1..100, in decimal digits'],
    ['/api/pipelines/fraud_multi_country/alerts?limit=1e2', 'limit: use a whole number 1..1000, in decimal digits (default 100)'],
    ['/api/pipelines/fraud_multi_country/late?limit=%2010', 'limit: use a whole number 1..1000, in decimal digits (default 100)'],
    ['/api/days/2026-11-23/pipelines/page_views_per_minute/report?limit=1.0', 'limit: use a whole number 1..1000, in decimal digits (default 100)'],
    ['/api/days/2026-11-23/pipelines/page_views_per_minute/compare?limit=5e2', 'limit: use a whole number 1..5000, in decimal digits (default 500)'],
    ['/api/dead-letters?limit=0x1', 'limit: use a whole number 1..500, in decimal digits (default 50)'],
  ])('%s: 400, %s', async (url, error) => {
    const r = await api.server.app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error, parameter: error.split(':')[0] });
  });

  it('plain digits within the bounds pass the check (the store is then read), and a parameter given twice still says so', async () => {
    for (const value of ['1', '5000', '010']) {
      api.reads = 0;
      const r = await api.server.app.inject({ method: 'GET', url: `${P}/windows?date=2026-11-23&limit=${value}` });
      expect(r.json().parameter, value).toBeUndefined();
      expect(api.reads, value).toBe(1);
    }
    const twice = await api.server.app.inject({ method: 'GET', url: `${P}/windows?limit=1&limit=2` });
    expect(twice.json()).toEqual({ error: 'limit: given 2 times; give it once', parameter: 'limit' });
  });
});
