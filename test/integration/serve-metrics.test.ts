import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { fillStore, reportOf, type FilledStore, type ReportJson } from '../fixtures/serve-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// /metrics of `concord serve`: the store's view (rows, days per status, the last reconciliation's
// outcome, watermarks, late events) equal to what the store and `concord report` say, the API's own
// request metrics, Prometheus naming; and the structured logs (one JSON line per event, a level).
const ws = tempWorkspace('concord-serve-metrics-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const DATE = '2026-11-23';

/** The samples of a Prometheus text exposition: `name{labels} value`. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const backends = [
  { name: 'embedded DuckDB', url: `duckdb:${join(ws.dir, 'duck', 'store.duckdb')}`, schema: undefined as string | undefined },
  { name: 'PostgreSQL', url: PG_URL, schema: schemas.next('metrics') },
];

describe.each(backends)('concord serve /metrics and logs on $name', (b) => {
  let filled: FilledStore;
  let before: ReportJson;
  let after: ReportJson;
  let server: Awaited<ReturnType<typeof buildServer>>;
  const logLines: string[] = [];

  beforeAll(async () => {
    filled = await fillStore(b.url, { dir: join(ws.dir, b.schema ?? 'duck'), ...(b.schema ? { schema: b.schema } : {}), clicks: 2_500, transactions: 800, between: async () => { before = reportOf(b.url, DATE, b.schema); } });
    after = reportOf(b.url, DATE, b.schema);
    const sink = new Writable({ write(chunk, _enc, done) { logLines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
    const reader = await openStoreReader(b.url, { registry: filled.registry, ...(b.schema ? { schema: b.schema } : {}) });
    server = await buildServer({ registry: filled.registry, reader, log: createLogger('info', sink), metricsCacheMs: 0 });
  }, 240_000);
  afterAll(async () => { await server?.close(); });

  it('exposes the store\'s view per pipeline, equal to the store and the report', async () => {
    await server.app.inject('/api/pipelines');
    await server.app.inject('/api/pipelines');
    await server.app.inject('/api/pipelines/nope');
    const r = await server.app.inject('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const all = samples(r.body);
    const value = (name: string, labels: Record<string, string> = {}) =>
      all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('concord_store_up')).toBe(1);
    for (const p of after.pipelines) {
      const pipeline = p.pipeline;
      const rec = p.reconciliation!.report;
      expect(value('concord_store_rows', { pipeline }), pipeline).toBe(before.pipelines.find((x) => x.pipeline === pipeline)!.rows.length + p.rows.length);
      expect(value('concord_store_days', { pipeline, status: 'reconciled' })).toBe(1);
      expect(value('concord_store_days', { pipeline, status: 'provisional' })).toBe(0);
      expect(value('concord_store_days', { pipeline, status: 'sealed' })).toBe(0);
      expect(value('concord_store_late_events', { pipeline })).toBe(filled.lateEvents.get(pipeline) ?? 0);
      expect(value('concord_store_dirty_cells', { pipeline })).toBe(p.status.dirty);
      expect(value('concord_watermark_timestamp_seconds', { pipeline })).toBeCloseTo(p.status.watermark! / 1000, 3);
      expect(value('concord_watermark_lag_seconds', { pipeline })).toBeGreaterThan(0);
      expect(value('concord_reconcile_last_success', { pipeline })).toBe(p.reconciliation!.status === 'published' ? 1 : 0);
      expect(value('concord_reconcile_last_mismatch_rate', { pipeline })).toBeCloseTo(rec.metrics.mismatch_rate, 12);
      expect(value('concord_reconcile_last_smape', { pipeline })).toBeCloseTo(rec.metrics.smape, 12);
      expect(value('concord_reconcile_last_differences', { pipeline })).toBe(rec.different);
      expect(value('concord_reconcile_last_unexplained', { pipeline })).toBe(rec.unexplained);
      expect(value('concord_reconcile_last_timestamp_seconds', { pipeline })).toBeGreaterThan(Date.UTC(2026, 0, 1) / 1000);
    }
    expect(value('concord_http_requests_total', { method: 'GET', route: '/api/pipelines', status_code: '200' })).toBe(2);
    expect(value('concord_http_requests_total', { method: 'GET', route: '/api/pipelines/:pipeline', status_code: '404' })).toBe(1);
    expect(value('concord_http_request_duration_seconds_count', { method: 'GET', route: '/api/pipelines' })).toBe(2);
    expect(value('concord_live_clients')).toBe(0);
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('names follow Prometheus conventions', async () => {
    const text = (await server.app.inject('/metrics')).body;
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    expect(types.length).toBeGreaterThan(20);
    for (const { name, type } of types) {
      expect(name).toMatch(/^(concord|process|nodejs)_[a-z0-9_]+$/);
      if (!name.startsWith('concord_')) continue; // prom-client's process metrics, as it names them
      if (type === 'counter') expect(name, name).toMatch(/_total$/);
      else expect(name, name).not.toMatch(/_total$/);
      if (name.startsWith('concord_') && /(duration|lag|timestamp|read)/.test(name)) expect(name, name).toMatch(/_seconds$/);
    }
    for (const name of ['concord_store_rows', 'concord_store_days', 'concord_reconcile_last_mismatch_rate', 'concord_http_requests_total', 'concord_http_request_duration_seconds']) {
      expect(types.some((t) => t.name === name), name).toBe(true);
      expect(text).toContain(`# HELP ${name} `);
    }
  });

  it('logs one JSON line per event, with the level setting honoured', async () => {
    await server.app.inject('/api/status');
    const parsed = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThan(0);
    for (const line of parsed) {
      expect(line).toMatchObject({ level: expect.any(Number), time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/), msg: expect.any(String), service: 'concord-serve' });
    }
    expect(parsed.find((l) => l.msg === 'request' && l.route === '/api/status')).toMatchObject({ method: 'GET', status: 200, ms: expect.any(Number) });
    const quiet: string[] = [];
    const q = createLogger('warn', new Writable({ write(chunk, _e, done) { quiet.push(String(chunk)); done(); } }));
    q.info('not shown');
    q.warn('shown');
    expect(quiet.join('')).not.toContain('not shown');
    expect(quiet.join('')).toContain('shown');
    expect(() => createLogger('loud')).toThrow(/--log-level "loud"/);
  });
});
