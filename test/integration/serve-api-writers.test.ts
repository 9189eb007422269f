import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { PG_URL } from '../fixtures/postgres.ts';
import { apiGet, DATE, P, reported, serveBackends, serveFilledStore, type ServeServer } from '../fixtures/serve-api.ts';
import type { FilledStore, ReportJson } from '../fixtures/serve-store.ts';

// The API of `concord serve` against a real store on both backends, filled like `concord demo` fills
// one, while something writes to it: new revisions and watermarks streamed as they are written; on
// DuckDB, a writer process holding the file; on PostgreSQL, reads while a second writer process holds
// the writers' lock in a slow publish.
const root = fileURLToPath(new URL('../..', import.meta.url));

describe.each(serveBackends('concord-serve-api-writers-'))('concord serve API on $name', (b) => {
  let filled: FilledStore, before: ReportJson, after: ReportJson, server: ServeServer;
  beforeAll(async () => { ({ filled, before, after, server } = await serveFilledStore(b)); }, 240_000);
  afterAll(async () => { await server?.close(); });
  const get = apiGet(() => server);

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
    const writer = await retry(() => openStore(b.url, { registry: filled.registry, schema: b.schema }));
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
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/serve-writer.ts', PG_URL, b.schema, DATE, P, '5', '2'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
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
      const waiting = openStore(PG_URL, { registry: filled.registry, schema: b.schema }).then(async (s) => { await s.close(); return performance.now() - t; });
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
