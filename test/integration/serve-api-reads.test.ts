import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import { DuckDbReadDriver } from '../../store/duckdb-read-driver.ts';
import { PostgresReadDriver } from '../../store/pg-driver.ts';
import { PG_URL } from '../fixtures/postgres.ts';
import { apiGet, DATE, F, P, reported, serveBackends, serveFilledStore, U, type ServeServer } from '../fixtures/serve-api.ts';
import type { FilledStore, ReportJson } from '../fixtures/serve-store.ts';

// The API of `concord serve` against a real store on both backends, filled like `concord demo` fills
// one (a small day streamed, archived, reconciled): every endpoint, live/version/asOf reads equal to
// what `concord report` says, bad parameters, limits, hostile input. Reads while something writes:
// serve-api-writers.test.ts.
const STACK = /\n\s+at |\.ts:\d+|node:internal/;

// A schema in the environment (a developer's or a helper's shell) must change nothing here: every store
// is opened, reported and queried by the schema its backend names.
beforeAll(() => { vi.stubEnv('CONCORD_STORE_SCHEMA', 'serve_ambient_schema'); });
afterAll(() => { vi.unstubAllEnvs(); });

type Row = ReportJson['pipelines'][number]['rows'][number];
const pick = (r: Row) => ({ window_start: r.window_start, window_end: r.window_end, key: r.key, values: r.values, revision: r.revision, provenance: r.provenance, generation: r.generation });

describe.each(serveBackends('concord-serve-api-reads-'))('concord serve API on $name', (b) => {
  let filled: FilledStore, before: ReportJson, after: ReportJson, server: ServeServer;
  beforeAll(async () => { ({ filled, before, after, server } = await serveFilledStore(b)); }, 240_000);
  afterAll(async () => { await server?.close(); });
  const get = apiGet(() => server);
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
    // top=N: the windows of the range's top-N keys, ranked as /top ranks them, without the keys in the URL.
    const topped = await get(`/api/pipelines/${P}/windows?date=${DATE}&top=5&by=views&limit=5000`);
    expect(topped.status, topped.raw).toBe(200);
    expect(topped.body.top).toEqual(range.body.keys);
    const named = new Set(range.body.keys.map((k: any) => k.key.url));
    expect(topped.body.rows.map(pick)).toEqual(rows.filter((r) => named.has(r.key.url)).map(pick));
    expect(await pages(`/api/pipelines/${P}/windows?date=${DATE}&top=5&limit=7`)).toEqual(topped.body.rows);
    expect((await get(`/api/pipelines/${P}/windows?date=${DATE}&limit=5`)).body.top).toBeUndefined();
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
    // A day the store holds nothing for says so beside its status (which can be sealed all the same).
    const none = await get('/api/days/2026-11-20');
    expect(none.body.pipelines.map((x: any) => [x.pipeline, x.empty, x.live_version, x.reconciliation])).toEqual(after.pipelines.map((p) => [p.pipeline, true, 0, null]));
    const day = await get(`/api/days/${DATE}`);
    for (const p of after.pipelines) {
      const d = day.body.pipelines.find((x: any) => x.pipeline === p.pipeline);
      const rec = p.reconciliation!.report;
      expect(d).toMatchObject({ status: 'reconciled', day_status: p.status.status, empty: false, live_version: p.status.liveGeneration, dirty_cells: p.status.dirty, late_delta: p.status.lateDelta, late_events: filled.lateEvents.get(p.pipeline) ?? 0 });
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
    // `date`, as the per-pipeline page takes it (/api/late refused it with "is not a parameter of this route").
    const oneDay = await get(`/api/late?date=${DATE}`);
    expect(oneDay.status).toBe(200);
    expect(oneDay.body).toEqual({ ...(await get(`/api/late?from=${DATE}&to=${DATE}`)).body, from: DATE, to: DATE });
    expect(oneDay.body.pipelines.find((x: any) => x.pipeline === P).total).toBeGreaterThan(0);
    expect(await get(`/api/late?date=${DATE}&from=${DATE}`)).toMatchObject({ status: 400, body: { parameter: 'date' } });
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
    expect(doc.body.paths['/api/pipelines/{pipeline}/windows'].get.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['pipeline', 'from', 'to', 'key', 'top', 'by', 'asOf', 'version', 'limit', 'cursor']));
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
      [`/api/pipelines/${P}/windows?top=3&key=x`, 'top'], [`/api/pipelines/${P}/windows?top=3&asOf=2026-11-23T00:00:00Z`, 'top'], [`/api/pipelines/${P}/windows?by=views`, 'by'],
      [`/api/pipelines/${P}/windows?top=3&by=nope`, 'by'], [`/api/pipelines/${P}/windows?top=101`, 'top'], [`/api/pipelines/${P}/windows?top=3&from=2026-11-01T00:00:00Z&to=2026-11-23T00:00:00Z`, 'to'],
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
    // A value outside a parameter's list names the values it takes.
    const only = await get(`/api/days/${DATE}/pipelines/${P}/compare?only=changed`);
    expect(only.body).toEqual({ error: 'only: must be one of "different", "all"', parameter: 'only' });
    // A version the day never had: 404 naming the parameter and the versions it has, not an empty comparison.
    const noVersion = await get(`/api/days/${DATE}/pipelines/${P}/compare?to_version=99`);
    expect(noVersion.status, noVersion.raw).toBe(404);
    expect(noVersion.body).toMatchObject({ parameter: 'to_version', error: `${P} ${DATE} has no version 99` });
    expect(noVersion.body.hint).toMatch(/^its versions: 0, 1/);
    // The same for the range reads (they answered 200 with no rows): windows, top keys, alerts.
    for (const path of [`/api/pipelines/${P}/windows?date=${DATE}&version=99`, `/api/pipelines/${P}/top?date=${DATE}&version=99`, `/api/pipelines/fraud_multi_country/alerts?date=${DATE}&version=99`]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).toMatchObject({ parameter: 'version', error: expect.stringMatching(/has no version 99 of any day from 2026-11-23 to 2026-11-23$/) });
    }
    expect((await get(`/api/pipelines/${P}/windows?date=${DATE}&version=1&limit=1`)).status).toBe(200);
    expect((await get(`/api/pipelines/${P}/windows?key=${'x'.repeat(9000)}`)).status).toBe(414);
    // The API is read-only: a method other than GET on a route is 405 naming what it allows; on no route, 404.
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
      for (const url of ['/api/pipelines', `/api/pipelines/${P}/windows?limit=1`, '/metrics']) {
        const r = await server.app.inject({ method, url, payload: { a: 1 } });
        expect(r.statusCode, `${method} ${url}`).toBe(405);
        expect(r.headers.allow).toBe('GET, HEAD');
        expect(r.json().error).toBe(`${method} is not allowed here: this API is read-only`);
      }
      expect((await server.app.inject({ method, url: '/api/no_such_route', payload: { a: 1 } })).statusCode, method).toBe(404);
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

  it('the live_results view (for SQL clients such as Grafana) holds each day\'s live rows, as `concord report` reads them', async () => {
    const driver = b.pg ? await PostgresReadDriver.open(PG_URL) : new DuckDbReadDriver(b.url.slice('duckdb:'.length));
    const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    const order = (rows: ReturnType<typeof pick>[]) => rows.sort((x, y) => x.window_start.localeCompare(y.window_start) || JSON.stringify(x.key).localeCompare(JSON.stringify(y.key)));
    try {
      for (const p of [P, U, F]) {
        const rows = await driver.snapshot((q) => q.query(
          `SELECT window_start_ms, extract(epoch FROM window_start) * 1000 AS start_again, extract(epoch FROM window_end) * 1000 AS end_ms, key, "values", revision, provenance, generation
           FROM ${b.schema}.live_results WHERE pipeline = $1 AND day = $2`, [p, DATE]));
        const viewed = rows.map((r) => {
          expect(Number(r.start_again)).toBe(Number(r.window_start_ms));
          return {
            window_start: new Date(Number(r.window_start_ms)).toISOString(), window_end: r.end_ms === null ? null : new Date(Number(r.end_ms)).toISOString(),
            key: json(r.key), values: json(r.values), revision: Number(r.revision), provenance: String(r.provenance), generation: Number(r.generation),
          };
        });
        expect(viewed.length, p).toBeGreaterThan(0);
        expect(order(viewed), p).toEqual(order(reported(after, p).rows.map(pick)));
      }
    } finally {
      await driver.close();
    }
  });

  it('reads through a read-only connection: the database refuses writes', async () => {
    const driver = b.pg ? await PostgresReadDriver.open(PG_URL) : new DuckDbReadDriver(b.url.slice('duckdb:'.length));
    try {
      await expect(driver.snapshot((q) => q.query(`CREATE TABLE ${b.schema}.intruder (a INTEGER)`))).rejects.toThrow(/read-only|read only/i);
      await expect(driver.snapshot((q) => q.query(`DELETE FROM ${b.schema}.result_rows`))).rejects.toThrow(/read-only|read only/i);
    } finally {
      await driver.close();
    }
  });
});
