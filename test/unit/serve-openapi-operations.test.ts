import { describe, expect, it } from 'vitest';
import { serveWithoutStore } from '../fixtures/serve-without-store.ts';

// /api/openapi.json left out /metrics (and the probes): a Grafana or Prometheus user reading the document
// for the scrape route found none. They are there now, /metrics with its media type, and still answered
// with a scraper's query parameters.
describe('concord serve: the OpenAPI document lists the operations routes', () => {
  const api = serveWithoutStore();

  it('/metrics is documented as Prometheus text format 0.0.4', async () => {
    const doc = (await api.server.app.inject('/api/openapi.json')).json();
    const get = doc.paths['/metrics']?.get;
    expect(get, Object.keys(doc.paths).join(' ')).toBeDefined();
    expect(get.tags).toEqual(['operations']);
    expect(Object.keys(get.responses['200'].content)).toEqual(['text/plain; version=0.0.4; charset=utf-8']);
    expect(get.responses['200'].content['text/plain; version=0.0.4; charset=utf-8'].schema).toEqual({ type: 'string' });
    expect(get.parameters ?? []).toEqual([]);
  });

  it('/healthz and /readyz are documented, /readyz with its 503', async () => {
    const doc = (await api.server.app.inject('/api/openapi.json')).json();
    expect(doc.paths['/healthz']?.get?.responses?.['200']).toBeDefined();
    expect(Object.keys(doc.paths['/readyz']?.get?.responses ?? {})).toEqual(['200', '503']);
    expect(doc.tags.map((t: { name: string }) => t.name)).toContain('operations');
  });

  it('/metrics still answers the text format, with or without a query', async () => {
    for (const url of ['/metrics', '/metrics?x=1']) {
      const r = await api.server.app.inject(url);
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(r.body).toMatch(/^# HELP /m);
    }
  });
});
