import { describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../serve/server.ts';
import { serveWithoutStore } from '../fixtures/serve-without-store.ts';

// Requests the router refuses before any route runs: a path with a malformed %-escape (`/api/pipelines/%zz`)
// and a path segment past the router's parameter length. Fastify answered them with its own body
// (`{"error":"Bad Request","code":"FST_ERR_BAD_URL","message":"'<the whole path>' ...","statusCode":400}`,
// also "Bad Request" on its 414), without the security headers or `Cache-Control: no-store`, and
// neither logged nor counted them in concord_http_requests_total.
describe('concord serve: URLs the router refuses answer as every other error', () => {
  const api = serveWithoutStore();

  const longName = 'x'.repeat(700);
  it.each([
    ['/api/pipelines/%zz', 400, /^url: the path holds a malformed %-escape/],
    ['/api/days/2026-11-23/pipelines/%E0%A4%A/report', 400, /^url: the path holds a malformed %-escape/],
    [`/api/pipelines/${longName}`, 414, /^url: a path segment is longer than 600 characters/],
  ])('%s: %i in the API\'s error shape, with its headers', async (url, status, message) => {
    const r = await api.server.app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(status);
    const body = r.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error', 'hint', 'parameter']);
    expect(body.error).toMatch(message);
    expect(body.parameter).toBe('url');
    expect(String(body.error)).not.toContain(longName);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(r.headers[name], name).toBe(value);
  });

  it('counts them in concord_http_requests_total', async () => {
    await api.server.app.inject({ method: 'GET', url: '/api/pipelines/%zz' });
    const text = (await api.server.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^concord_http_requests_total\{method="GET",route="unmatched",status_code="400"\} [1-9]/m);
    expect(text).toMatch(/^concord_http_requests_total\{method="GET",route="unmatched",status_code="414"\} [1-9]/m);
  });

  // A parameter that takes one value, given twice, was refused as `limit: must be integer` (Ajv's message
  // for the array both values make): the value was fine, its repetition was not.
  it.each([
    ['/api/pipelines/page_views_per_minute/windows?limit=1&limit=2', 'limit'],
    ['/api/pipelines/page_views_per_minute/windows?date=2026-11-23&date=2026-11-22', 'date'],
    ['/api/days/2026-11-23/pipelines/page_views_per_minute/compare?only=all&only=different', 'only'],
  ])('%s: 400 saying %s is given twice', async (url, parameter) => {
    const r = await api.server.app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: `${parameter}: given 2 times; give it once`, parameter });
  });

  it('a repeatable parameter over its count is refused for its count', async () => {
    const keys = Array.from({ length: 51 }, (_, i) => `key=%2Fp${i}`).join('&');
    const r = await api.server.app.inject({ method: 'GET', url: `/api/pipelines/page_views_per_minute/windows?${keys}` });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: 'key: must NOT have more than 50 items', parameter: 'key' });
  });
});
