import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { seedRegistry } from '../../examples/seed.ts';
import { ConcordJobs, QUEUE } from '../../jobs/job-queue.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { JobsView } from '../../serve/jobs-view.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { DuckDbReadDriver } from '../../store/duckdb-read-driver.ts';
import { PostgresReadDriver } from '../../store/pg-driver.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { fillStore, reportOf, type FilledStore, type ReportJson } from '../fixtures/serve-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The API of `concord serve` against a real store on both backends, filled like `concord demo` fills
// one (a small day streamed, archived, reconciled): every endpoint, live/version/asOf reads equal to
// what `concord report` says, bad parameters, limits, hostile input; on PostgreSQL, reads while a
// second writer process holds the writers' lock in a slow publish.
const ws = tempWorkspace('concord-serve-api-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const root = fileURLToPath(new URL('../..', import.meta.url));
const DATE = '2026-11-23';
const P = 'page_views_per_minute', U = 'unique_visitors_5m', F = 'fraud_multi_country';
const STACK = /\n\s+at |\.ts:\d+|node:internal/;

interface Backend { name: string; url: string; schema: string | undefined; pg: boolean }
const backends: Backend[] = [
  { name: 'embedded DuckDB', url: `duckdb:${join(ws.dir, 'duck', 'store.duckdb')}`, schema: undefined, pg: false },
  { name: 'PostgreSQL', url: PG_URL, schema: schemas.next('serve'), pg: true },
];

type Row = ReportJson['pipelines'][number]['rows'][number];
const pick = (r: Row) => ({ window_start: r.window_start, window_end: r.window_end, key: r.key, values: r.values, revision: r.revision, provenance: r.provenance, generation: r.generation });

describe.each(backends)('concord serve API on $name', (b) => {
  let filled: FilledStore;
  let before: ReportJson;
  let after: ReportJson;
  let server: Awaited<ReturnType<typeof buildServer>>;

  beforeAll(async () => {
    filled = await fillStore(b.url, { dir: join(ws.dir, b.pg ? 'pg' : 'duck'), ...(b.schema ? { schema: b.schema } : {}), between: async () => { before = reportOf(b.url, DATE, b.schema); } });
    after = reportOf(b.url, DATE, b.schema);
    const reader = await openStoreReader(b.url, { registry: filled.registry, ...(b.schema ? { schema: b.schema } : {}) });
    server = await buildServer({ registry: filled.registry, reader, log: createLogger('silent'), archive: filled.archiveDir });
  }, 240_000);
  afterAll(async () => { await server?.close(); });

  const get = async (url: string) => {
    const r = await server.app.inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.json() as Record<string, any>, raw: r.body, headers: r.headers };
  };
  const pages = async (url: string, field = 'rows') => {
    const rows: any[] = [];
    let cursor: string | null = null;
    do {
      const r = await get(`${url}${url.includes('?') ? '&' : '?'}${cursor ? `cursor=${cursor}` : ''}`);
      expect(r.status, r.raw).toBe(200);
      rows.push(...r.body[field]);
      cursor = r.body.next_cursor;
    } while (cursor);
    return rows;
  };
  const reported = (rep: ReportJson, p: string) => rep.pipelines.find((x) => x.pipeline === p)!;
  const asReportRows = (p: string, rows: any[]) => (p === F
    ? rows.map((a) => ({ window_start: a.ts, window_end: null, key: a.key, values: { txn_id: a.id, [a.output]: a.value, late: a.late }, revision: a.revision, provenance: a.provenance, generation: a.generation }))
    : rows.map((r) => pick(r)));
  const dayRows = (p: string, query: string) => pages(`/api/pipelines/${p}/${p === F ? 'alerts' : 'windows'}?date=${DATE}&limit=${p === F ? 1000 : 5000}&${query}`);

  it('lists the loaded definitions', async () => {
    const r = await get('/api/pipelines');
    expect(r.status).toBe(200);
    expect(r.body.pipelines.map((p: any) => p.name)).toEqual(filled.registry.pipelines.map((p) => p.name));
    for (const def of filled.registry.pipelines) {
      const p = r.body.pipelines.find((x: any) => x.name === def.name);
      expect(p).toMatchObject({ kind: def.kind, input: def.schema.name, definition_version: definitionVersion(def), max_out_of_orderness: '30s', allowed_lateness: '5m' });
    }
    expect(r.body.pipelines.find((x: any) => x.name === P)).toMatchObject({ key: ['url'], window: { kind: 'tumbling', size: '1m' }, aggregates: [{ name: 'views', fn: 'count' }], rule: null });
    expect(r.body.pipelines.find((x: any) => x.name === F)).toMatchObject({ key: ['user_id'], window: null, rule: { measure: 'distinct', field: 'country', within: '10m', more_than: 3, output: 'countries' } });
    const one = await get(`/api/pipelines/${P}`);
    expect(one.body.store.rows).toBe(reported(before, P).rows.length + reported(after, P).rows.length);
  });

  it('live, version and asOf reads equal what `concord report` said before and after the reconciliation', async () => {
    for (const def of filled.registry.pipelines) {
      const p = def.name;
      const live = reported(after, p).status.liveGeneration;
      expect(live, `${p} was reconciled`).toBeGreaterThan(0);
      expect(asReportRows(p, await dayRows(p, '')), `${p} live`).toEqual(reported(after, p).rows.map(pick));
      expect(asReportRows(p, await dayRows(p, `version=${live}`)), `${p} version ${live}`).toEqual(reported(after, p).rows.map(pick));
      expect(asReportRows(p, await dayRows(p, 'version=realtime')), `${p} realtime`).toEqual(reported(before, p).rows.map(pick));
      if (p !== F) {
        expect(asReportRows(p, await dayRows(p, `asOf=${new Date(filled.streamedAt).toISOString()}`)), `${p} as of before the reconciliation`).toEqual(reported(before, p).rows.map(pick));
        expect(asReportRows(p, await dayRows(p, `asOf=${Date.now()}`)), `${p} as of now`).toEqual(reported(after, p).rows.map(pick));
      }
      expect(reported(before, p).rows.length).toBeGreaterThan(0);
    }
  });

  it('pages with a cursor, without gaps or overlaps, and caps every page', async () => {
    const all = await dayRows(P, '');
    const small = await pages(`/api/pipelines/${P}/windows?date=${DATE}&limit=333`);
    expect(small).toEqual(all);
    const first = await get(`/api/pipelines/${P}/windows?date=${DATE}&limit=5`);
    expect(first.body.rows).toHaveLength(5);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    expect((await get(`/api/pipelines/${P}/windows?date=${DATE}&limit=5001`)).status).toBe(400);
    // No range given: a bounded default (6 h before the newest window).
    const dflt = await get(`/api/pipelines/${P}/windows`);
    expect(Date.parse(dflt.body.to) - Date.parse(dflt.body.from)).toBe(6 * 3_600_000);
  });

  it('filters by key, and reads the top-N keys of a window and of a range', async () => {
    const rows = reported(after, P).rows;
    const url = rows[0]!.key.url as string;
    const mine = await pages(`/api/pipelines/${P}/windows?date=${DATE}&key=${encodeURIComponent(url)}`);
    expect(mine.map(pick)).toEqual(rows.filter((r) => r.key.url === url).map(pick));
    const two = await pages(`/api/pipelines/${P}/windows?date=${DATE}&key=${encodeURIComponent(JSON.stringify({ url }))}&key=${encodeURIComponent(rows.at(-1)!.key.url as string)}`);
    expect(two.length).toBe(rows.filter((r) => r.key.url === url || r.key.url === rows.at(-1)!.key.url).length);
    // One window: its values, largest first.
    const byWindow = new Map<string, Row[]>();
    for (const r of rows) byWindow.set(r.window_start, [...(byWindow.get(r.window_start) ?? []), r]);
    const busiest = [...byWindow.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
    const top = await get(`/api/pipelines/${P}/top?window=${busiest[0]}&by=views&n=3`);
    expect(top.status).toBe(200);
    const expected = busiest[1].map((r) => r.values.views as number).sort((a, b) => b - a).slice(0, 3);
    expect(top.body.keys.map((k: any) => k.total)).toEqual(expected);
    for (const k of top.body.keys) expect(busiest[1].find((r) => r.key.url === k.key.url)!.values.views).toBe(k.total);
    // A range: the aggregate summed per key over the range's windows.
    const range = await get(`/api/pipelines/${P}/top?date=${DATE}&n=5`);
    const sums = new Map<string, number>();
    for (const r of rows) sums.set(r.key.url as string, (sums.get(r.key.url as string) ?? 0) + (r.values.views as number));
    expect(range.body.keys.map((k: any) => k.total)).toEqual([...sums.values()].sort((a, b) => b - a).slice(0, 5));
    for (const k of range.body.keys) expect(sums.get(k.key.url)).toBe(k.total);
  });

  it('alerts of a rule pipeline by key and newest first', async () => {
    const rows = reported(after, F).rows;
    const user = rows[0]!.key.user_id as string;
    const mine = await pages(`/api/pipelines/${F}/alerts?date=${DATE}&key=${encodeURIComponent(user)}`);
    expect(asReportRows(F, mine)).toEqual(rows.filter((r) => r.key.user_id === user).map(pick));
    const desc = await get(`/api/pipelines/${F}/alerts?date=${DATE}&order=desc&limit=3`);
    expect(desc.body.rows.map((a: any) => a.ts)).toEqual(rows.map((r) => r.window_start).reverse().slice(0, 3));
  });

  it('days: status, versions, the reconciliation report and what changed, as `concord report` says', async () => {
    const days = await get('/api/days');
    expect(days.status).toBe(200);
    const today = days.body.days.find((d: any) => d.date === DATE);
    for (const p of after.pipelines) {
      expect(today.pipelines.find((x: any) => x.pipeline === p.pipeline)).toMatchObject({ status: 'reconciled', live_version: p.status.liveGeneration, versions: [0, ...p.status.generations] });
    }
    const day = await get(`/api/days/${DATE}`);
    for (const p of after.pipelines) {
      const d = day.body.pipelines.find((x: any) => x.pipeline === p.pipeline);
      const rec = p.reconciliation!.report;
      expect(d).toMatchObject({ status: 'reconciled', day_status: p.status.status, live_version: p.status.liveGeneration, dirty_cells: p.status.dirty, late_delta: p.status.lateDelta, late_events: filled.lateEvents.get(p.pipeline) ?? 0 });
      expect(d.watermark).toBe(new Date(p.status.watermark!).toISOString());
      expect(d.reconciliation).toMatchObject({ cells: rec.cells, equal: rec.equal, different: rec.different, causes: rec.causes, unexplained: rec.unexplained, mismatch_rate: rec.metrics.mismatch_rate, smape: rec.metrics.smape });
      expect(d.versions.map((v: any) => [v.version, v.live])).toEqual([[0, false], ...p.status.generations.map((g) => [g, g === p.status.liveGeneration])]);
      const report = await pages(`/api/days/${DATE}/pipelines/${p.pipeline}/report?limit=7`, 'differences');
      expect(report).toEqual(rec.differences);
      // What changed between realtime and the live version: the cells whose values differ in the two reports.
      const key = (r: Row) => `${r.window_start}|${JSON.stringify(r.key)}|${p.pipeline === F ? String(r.values.txn_id) : ''}`;
      const was = new Map(reported(before, p.pipeline).rows.map((r) => [key(r), JSON.stringify(r.values)]));
      const now = new Map(p.rows.map((r) => [key(r), JSON.stringify(r.values)]));
      const changed = [...new Set([...was.keys(), ...now.keys()])].filter((k) => was.get(k) !== now.get(k)).sort();
      const compare = await pages(`/api/days/${DATE}/pipelines/${p.pipeline}/compare?limit=50`);
      expect(compare.map((c) => `${c.window_start ?? c.ts}|${JSON.stringify(c.key)}|${p.pipeline === F ? String((c.to ?? c.from).txn_id) : ''}`).sort()).toEqual(changed);
      expect(compare.every((c) => c.differs)).toBe(true);
      const everything = await pages(`/api/days/${DATE}/pipelines/${p.pipeline}/compare?only=all&limit=5000`);
      expect(everything.length).toBe(new Set([...was.keys(), ...now.keys()]).size);
    }
    expect(after.pipelines.some((p) => p.reconciliation!.report.different > 0)).toBe(true);
  });

  it('late events and dead letters: counts per pipeline and a page of examples', async () => {
    const late = await get('/api/late?from=2026-11-01&to=2026-11-30');
    for (const p of filled.registry.pipelines) expect(late.body.pipelines.find((x: any) => x.pipeline === p.name).total).toBe(filled.lateEvents.get(p.name) ?? 0);
    const examples = await pages(`/api/pipelines/${P}/late?date=${DATE}&limit=7`);
    expect(examples.length).toBe(filled.lateEvents.get(P));
    expect(new Set(examples.map((e) => `${e.source}:${e.offset}`)).size).toBe(examples.length);
    expect(examples[0]).toMatchObject({ id: expect.stringMatching(/^c-/), event_time: expect.stringMatching(/^2026-11-23T/), watermark: expect.any(String), window_start: expect.any(String) });
    expect(Date.parse(examples[0].watermark)).toBeGreaterThan(Date.parse(examples[0].event_time));
    const dead = await get('/api/dead-letters?limit=3');
    expect(dead.body.schemas).toEqual([...filled.registry.schemas.keys()].map((s) => ({ schema: s, count: filled.deadLetters.get(s) ?? 0 })));
    expect(dead.body.pipelines.find((x: any) => x.pipeline === P).count).toBe(filled.deadLetters.get('clicks'));
    expect(filled.deadLetters.get('clicks')).toBeGreaterThan(0);
    expect(dead.body.examples.rows).toHaveLength(3);
    expect(dead.body.examples.rows[0]).toMatchObject({ schema: 'clicks', reason: expect.any(String), raw: expect.any(String) });
  });

  it('jobs without Redis configured; status; OpenAPI', async () => {
    expect((await get('/api/jobs')).body).toMatchObject({ enabled: false });
    const status = await get('/api/status');
    expect(status.body.store).toMatchObject({ backend: b.pg ? 'postgres' : 'duckdb', status: 'ok' });
    expect(status.body.empty).toBe(false);
    const w = status.body.pipelines.find((x: any) => x.pipeline === P);
    expect(w.watermark).toBe(new Date(reported(after, P).status.watermark!).toISOString());
    const doc = await get('/api/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    for (const path of ['/api/pipelines', '/api/pipelines/{pipeline}/windows', '/api/pipelines/{pipeline}/top', '/api/pipelines/{pipeline}/alerts', '/api/days', '/api/days/{date}',
      '/api/days/{date}/pipelines/{pipeline}/report', '/api/days/{date}/pipelines/{pipeline}/compare', '/api/late', '/api/pipelines/{pipeline}/late', '/api/dead-letters', '/api/jobs', '/api/status', '/api/live']) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
    expect(doc.body.paths['/api/pipelines/{pipeline}/windows'].get.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['pipeline', 'from', 'to', 'key', 'asOf', 'version', 'limit', 'cursor']));
  });

  it('bad parameters get a 400 naming the parameter; unknown pipelines a 404; no stack traces', async () => {
    const bad: [string, string][] = [
      [`/api/pipelines/${P}/windows?limit=0`, 'limit'], [`/api/pipelines/${P}/windows?limit=abc`, 'limit'], [`/api/pipelines/${P}/windows?bogus=1`, 'bogus'],
      [`/api/pipelines/${P}/windows?from=yesterday`, 'from'], [`/api/pipelines/${P}/windows?from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z`, 'to'],
      [`/api/pipelines/${P}/windows?from=2026-01-01T00:00:00Z&to=2026-11-23T00:00:00Z`, 'to'], [`/api/pipelines/${P}/windows?date=2026-02-30`, 'date'],
      [`/api/pipelines/${P}/windows?date=${DATE}&from=2026-11-23T00:00:00Z`, 'date'], [`/api/pipelines/${P}/windows?version=newest`, 'version'],
      [`/api/pipelines/${P}/windows?asOf=2026-11-23T00:00:00Z&version=1`, 'asOf'], [`/api/pipelines/${P}/windows?cursor=garbage`, 'cursor'],
      [`/api/pipelines/${P}/windows?key=${encodeURIComponent('{"nope":1}')}`, 'key'], [`/api/pipelines/${P}/windows?key=${encodeURIComponent('{"url":5}')}`, 'key'],
      [`/api/pipelines/${P}/windows?${Array.from({ length: 51 }, (_, i) => `key=k${i}`).join('&')}`, 'key'], [`/api/pipelines/${U}/windows?key=x`, 'key'],
      [`/api/pipelines/${F}/windows`, 'pipeline'], [`/api/pipelines/${P}/alerts`, 'pipeline'], [`/api/pipelines/${P}/top?by=nope`, 'by'], [`/api/pipelines/${P}/top?n=101`, 'n'],
      [`/api/pipelines/${P}/top?from=2026-11-20T00:00:00Z&to=2026-11-23T00:00:00Z`, 'to'], [`/api/pipelines/${P}/top?window=${DATE}&date=${DATE}`, 'window'],
      [`/api/days?from=2026-01-01&to=2026-11-23`, 'to'], ['/api/days/2026-13-01', 'date'], [`/api/days/${DATE}/pipelines/${P}/report?cause=nope`, 'cause'],
      [`/api/days/${DATE}/pipelines/${P}/compare?from_version=x`, 'from_version'], [`/api/pipelines/${P}/late?date=nope`, 'date'],
      ['/api/dead-letters?schema=nope', 'schema'], ['/api/live?pipeline=nope', 'pipeline'], [`/api/pipelines/${P}/windows?key=%00`, 'url'],
    ];
    for (const [url, parameter] of bad) {
      const r = await get(url);
      expect(r.status, `${url}: ${r.raw}`).toBe(400);
      expect(r.body.parameter, url).toBe(parameter);
      expect(r.body.error, url).toContain(parameter);
      expect(r.raw).not.toMatch(STACK);
    }
    for (const path of ['', '/windows', '/top', '/alerts', '/late']) {
      const r = await get(`/api/pipelines/no_such_pipeline${path}`);
      expect(r.status, path).toBe(404);
      expect(r.body.error).toContain('no_such_pipeline');
    }
    for (const path of ['report', 'compare']) expect((await get(`/api/days/${DATE}/pipelines/no_such_pipeline/${path}`)).status).toBe(404);
    expect((await get('/api/days/2026-11-20/pipelines/page_views_per_minute/report')).status).toBe(404);
    expect((await get(`/api/pipelines/${P}/windows?key=${'x'.repeat(9000)}`)).status).toBe(414);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
      const r = await server.app.inject({ method, url: '/api/pipelines', payload: { a: 1 } });
      expect(r.statusCode, method).toBe(404);
    }
  });

  it('a hostile pipeline name or key value in a URL does no harm', async () => {
    const names = [`x'; DROP TABLE concord.result_rows; --`, `"; DELETE FROM concord.day_live; --`, '../../../etc/passwd', '<script>alert(1)</script>', `${P}' OR '1'='1`, 'é'.repeat(150), 'a'.repeat(700)];
    for (const name of names) {
      for (const path of ['', '/windows', '/alerts', '/top', '/late']) {
        const r = await get(`/api/pipelines/${encodeURIComponent(name)}${path}`);
        expect(r.status, `${name.slice(0, 40)}${path}`).toBe(name.length > 600 ? 414 : 404); // longer than any pipeline name may be: 414
        expect(r.headers['content-type']).toContain('application/json');
        expect(r.raw).not.toMatch(STACK);
      }
    }
    for (const key of [`' OR '1'='1`, `x'); DROP TABLE concord.result_rows; --`, JSON.stringify({ url: `"; DELETE FROM concord.result_rows; --` }), '%', '_', '\\']) {
      const r = await get(`/api/pipelines/${P}/windows?date=${DATE}&key=${encodeURIComponent(key)}`);
      expect(r.status, key).toBe(200);
      expect(r.body.rows).toEqual([]);
    }
    expect(asReportRows(P, await dayRows(P, ''))).toEqual(reported(after, P).rows.map(pick));
  });

  it('reads through a read-only connection: the database refuses writes', async () => {
    const driver = b.pg ? await PostgresReadDriver.open(PG_URL) : new DuckDbReadDriver(b.url.slice('duckdb:'.length));
    try {
      await expect(driver.snapshot((q) => q.query(`CREATE TABLE ${b.schema ?? 'concord'}.intruder (a INTEGER)`))).rejects.toThrow(/read-only|read only/i);
      await expect(driver.snapshot((q) => q.query(`DELETE FROM ${b.schema ?? 'concord'}.result_rows`))).rejects.toThrow(/read-only|read only/i);
    } finally {
      await driver.close();
    }
  });

  it('streams new revisions and watermarks as server-sent events', async () => {
    const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const events: { type: string; data: any }[] = [];
    const abort = new AbortController();
    const res = await fetch(`${address}/api/live`, { signal: abort.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reading = (async () => {
      let buffer = '';
      for await (const chunk of res.body!) {
        buffer += Buffer.from(chunk).toString('utf8');
        let at;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) });
        }
      }
    })().catch(() => undefined);
    await until(() => events.some((e) => e.type === 'hello'), 5_000);
    await new Promise((r) => setTimeout(r, 1_500)); // the feed's first poll sets its marks
    const def = filled.registry.pipeline(P);
    const start = Date.UTC(2026, 10, 24, 0, 30);
    const writer = await retry(() => openStore(b.url, { registry: filled.registry, ...(b.schema ? { schema: b.schema } : {}) }));
    try {
      await writer.writeRealtime([{ kind: 'window', pipeline: P, windowStart: start, windowEnd: start + 60_000, key: { url: '/serve-test' }, values: { views: 42 }, revision: 0, watermark: start + 61_000, definitionVersion: definitionVersion(def) }]);
      await writer.setWatermark(P, start + 61_000);
    } finally {
      await writer.close();
    }
    await until(() => events.some((e) => e.type === 'revision' && e.data.key?.url === '/serve-test'), 15_000);
    const rev = events.find((e) => e.type === 'revision' && e.data.key?.url === '/serve-test')!;
    expect(rev.data).toMatchObject({ pipeline: P, window_start: new Date(start).toISOString(), values: { views: 42 }, revision: 0, provenance: 'realtime' });
    await until(() => events.some((e) => e.type === 'watermark' && e.data.pipeline === P && e.data.watermark === new Date(start + 61_000).toISOString()), 10_000);
    abort.abort();
    await reading;
  }, 60_000);

  if (!b.pg) {
    it('while a writer process holds the DuckDB file: a 503 at once naming why, the status says busy, then reads resume', async () => {
      const path = b.url.slice('duckdb:'.length);
      await new Promise((r) => setTimeout(r, 400)); // the server's own reads release the file
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
        `import { DuckDBInstance } from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(path)}); console.log('holding'); setTimeout(() => { i.closeSync(); console.log('released'); }, 2500);`],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
      const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
      await until(() => lines.includes('holding'), 30_000);
      const t = performance.now();
      const r = await get(`/api/days/${DATE}`);
      const ms = performance.now() - t;
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.body.error).toMatch(/held by a writer/);
      expect(ms).toBeLessThan(1_000);
      expect((await get('/api/status')).body.store.status).toBe('busy');
      expect(await exited).toBe(0);
      const again = await get(`/api/days/${DATE}`);
      expect(again.status).toBe(200);
      process.stderr.write(`serve-api (DuckDB, a writer holding the file): answered 503 in ${ms.toFixed(1)} ms\n`);
    }, 60_000);
  }

  if (b.pg) it('answers at once while a second writer process holds the lock in a slow publish, and never shows a mixed day', async () => {
    const realtime = reported(before, P).rows;
    const base = new Map(realtime.map((r) => [`${r.window_start}|${r.key.url}`, r.values.views as number]));
    const replayed = new Map(reported(after, P).rows.map((r) => [`${r.window_start}|${r.key.url}`, r.values.views as number]));
    const live0 = reported(after, P).status.liveGeneration;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/serve-writer.ts', PG_URL, b.schema!, DATE, P, '5', '2'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
    /** Every row of one response is of one version, and that version's values (gen live0: the replay; the writer's k-th: realtime + k). */
    const consistent = (rows: any[]) => {
      const gens = new Set(rows.map((r) => r.generation));
      expect(gens.size, 'one version per day').toBe(1);
      const g = rows[0].generation as number;
      for (const r of rows) {
        const id = `${r.window_start}|${r.key.url}`;
        expect(r.values.views).toBe(g === live0 ? replayed.get(id) : base.get(id)! + (g - live0));
      }
      return g;
    };
    const latencies: number[] = [];
    const timed = async (url: string) => {
      const t = performance.now();
      const r = await get(url);
      latencies.push(performance.now() - t);
      expect(r.status, r.raw).toBe(200);
      return r;
    };
    try {
      await until(() => lines.includes('locked 1'), 60_000);
      // The writers' path (what `concord report` did before: openStore creates tables under the lock) waits now...
      const t = performance.now();
      const waiting = openStore(PG_URL, { registry: filled.registry, schema: b.schema! }).then(async (s) => { await s.close(); return performance.now() - t; });
      // ...while the API answers at once, from the version live before the publish.
      const seen = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const [rows, day, status] = await Promise.all([
          timed(`/api/pipelines/${P}/windows?date=${DATE}&limit=5000`), timed(`/api/days/${DATE}`), timed('/api/status'),
          timed(`/api/days/${DATE}/pipelines/${P}/report?limit=5`), timed(`/api/pipelines/${P}/top?date=${DATE}`),
        ]);
        const g = consistent(rows.body.rows);
        seen.add(g);
        expect(day.body.pipelines.find((x: any) => x.pipeline === P).live_version).toBe(live0);
        expect(status.body.store.status).toBe('ok');
      }
      expect([...seen]).toEqual([live0]);
      const writerWaited = await waiting;
      expect(writerWaited, 'the lock was really held').toBeGreaterThan(2_000);
      // Reads across the next commits see the old or the new version, never a mix.
      while (!lines.includes('done')) {
        const r = await timed(`/api/pipelines/${P}/windows?date=${DATE}&limit=5000`);
        seen.add(consistent(r.body.rows));
        await new Promise((res) => setTimeout(res, 150));
      }
      expect(await exited).toBe(0);
      const final = await timed(`/api/pipelines/${P}/windows?date=${DATE}&limit=5000`);
      expect(consistent(final.body.rows)).toBe(live0 + 2);
      expect(seen.has(live0 + 1)).toBe(true);
      latencies.sort((a, b) => a - b);
      const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
      process.stderr.write(`serve-api (PostgreSQL, writer holding the lock): ${latencies.length} reads, p50 ${p(0.5).toFixed(1)} ms, p95 ${p(0.95).toFixed(1)} ms, max ${p(1).toFixed(1)} ms; the writers' path waited ${writerWaited.toFixed(0)} ms\n`);
      expect(p(1), 'no read waited for the 5 s publish').toBeLessThan(2_000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens a writer, retrying while the (DuckDB) file is held by the server's reads. */
async function retry<T>(fn: () => Promise<T>, attempts = 50): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('concord serve on an empty store, and with BullMQ jobs', () => {
  const registry = seedRegistry();
  const prefix = `serve-test-${randomUUID().slice(0, 8)}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

  it.each([
    { name: 'DuckDB (no file yet)', url: `duckdb:${join(ws.dir, 'nothing', 'store.duckdb')}`, schema: undefined as string | undefined },
    { name: 'PostgreSQL (no tables yet)', url: PG_URL, schema: schemas.next('empty') },
  ])('$name: answers empty, says what to run, creates nothing', async ({ url, schema }) => {
    const reader = await openStoreReader(url, { registry, ...(schema ? { schema } : {}) });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    try {
      const status = (await server.app.inject('/api/status')).json();
      expect(status).toMatchObject({ empty: true, store: { status: 'ok', empty: true } });
      expect(status.hint).toMatch(/concord demo/);
      expect((await server.app.inject('/api/days')).json().days).toEqual([]);
      expect((await server.app.inject(`/api/pipelines/${P}/windows`)).json().rows).toEqual([]);
      expect((await server.app.inject(`/api/pipelines/${F}/alerts`)).json().rows).toEqual([]);
      expect((await server.app.inject(`/api/days/${DATE}`)).statusCode).toBe(200);
      expect((await server.app.inject('/metrics')).body).toContain('concord_store_up 1');
      const page = await server.app.inject('/');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    } finally {
      await server.close();
    }
    if (!schema) expect(existsSync(url.slice('duckdb:'.length))).toBe(false);
  });

  it('jobs: BullMQ queue counts and the last run per (kind, pipeline, date) with progress and errors', async () => {
    const jobs = new ConcordJobs(registry.pipelines.map((p) => p.name), { redisUrl, prefix, attempts: 1 });
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const worker = new Worker(QUEUE, async (job) => {
      await job.updateProgress({ done: 1, total: 3, what: 'replay' });
      throw new Error('the archive has no files for this day');
    }, { connection, prefix, autorun: false });
    const reader = await openStoreReader(`duckdb:${join(ws.dir, 'nothing', 'store.duckdb')}`, { registry });
    const server = await buildServer({ registry, reader, log: createLogger('silent'), jobs: new JobsView(redisUrl, { prefix }) });
    try {
      await jobs.enqueueReconcile(DATE, P);
      await jobs.enqueueReconcile('2026-11-22', U);
      let body = (await server.app.inject('/api/jobs')).json();
      expect(body).toMatchObject({ enabled: true, counts: { waiting: 2, failed: 0 } });
      expect(body.runs.map((r: any) => [r.kind, r.pipeline, r.date, r.state]).sort()).toEqual([['reconcile', P, DATE, 'waiting'], ['reconcile', U, '2026-11-22', 'waiting']]);
      const failed = new Promise<void>((resolve) => { let n = 0; worker.on('failed', () => { if (++n === 2) resolve(); }); });
      void worker.run();
      await failed;
      body = (await server.app.inject('/api/jobs')).json();
      expect(body.counts).toMatchObject({ waiting: 0, failed: 2 });
      expect(body.runs.find((r: any) => r.pipeline === P)).toMatchObject({ state: 'failed', failed_reason: 'the archive has no files for this day', progress: { done: 1, total: 3, what: 'replay' }, attempts: 1 });
      expect((await server.app.inject('/metrics')).body).toMatch(/concord_jobs\{state="failed"\} 2/);
    } finally {
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
      connection.disconnect();
      await server.close();
    }
  }, 60_000);

  it('jobs: a Redis that does not answer is a 503 within seconds, not a hang', async () => {
    const reader = await openStoreReader(`duckdb:${join(ws.dir, 'nothing', 'store.duckdb')}`, { registry });
    const server = await buildServer({ registry, reader, log: createLogger('silent'), jobs: new JobsView('redis://127.0.0.1:1', { timeoutMs: 1_000 }) });
    try {
      const t = performance.now();
      const r = await server.app.inject('/api/jobs');
      expect(r.statusCode).toBe(503);
      expect(r.json().error).toMatch(/Redis/);
      expect(performance.now() - t).toBeLessThan(5_000);
    } finally {
      await server.close();
    }
  });
});
