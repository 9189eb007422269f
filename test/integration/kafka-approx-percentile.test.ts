import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDefinitionsFile } from '../../pipeline/load-definitions.ts';
import { nearestRank } from '../../pipeline/log-histogram.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStoreReader } from '../../store/open-store.ts';
import { deleteGroups } from '../../stream/kafka/admin.ts';
import { committedOffsets, endOffsets, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { concord, jsonLines } from '../fixtures/cli.ts';
import { deleteTopic, topicsStartingWith } from '../fixtures/kafka-topics.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// approx_percentile over the real broker: produce -> two workers (one SIGKILLed mid-run and restarted, its
// histograms restored from the checkpoint) -> sink into DuckDB and PostgreSQL -> the replay of the archive.
// The unkeyed pipeline runs in the merge stage, so its histograms cross the partials topic serialised.
// Every estimate is the bound of the bucket holding the exact nearest-rank value, computed here from the events.
const root = fileURLToPath(new URL('../..', import.meta.url));
const s = kafkaSettings('concord-test');
const ws = tempWorkspace('concord-kafka-pctk-');
const prefix = `pctk-${randomUUID().slice(0, 6)}.`;
const schemas = testSchemas();
const PARTITIONS = '3';
const env = { CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: PARTITIONS };
afterAll(async () => {
  for (const t of await topicsStartingWith(prefix)) await deleteTopic(t).catch(() => undefined);
  await deleteGroups(s, ['concord-reqs', 'concord-reqs.merge', 'concord-archiver-reqs', 'sink-duck', 'sink-pg'].map((g) => `${prefix}${g}`));
  await schemas.drop();
  ws.cleanup();
});

const definitions = {
  schemas: { reqs: { time: 'ts', id: 'id', key: 'path', fields: { id: 'string', ts: 'timestamp', path: 'string', status: 'int', latency_ms: 'int', price: 'decimal(2)' } } },
  pipelines: {
    latency_by_path: {
      input: 'reqs', key: ['path'], window: { tumbling: '1m' }, max_out_of_orderness: '2s', allowed_lateness: '0ms',
      aggregates: {
        n: 'count', p50_ms: ['approx_percentile', 'latency_ms', 0.5], p99_ms: ['approx_percentile', 'latency_ms', 0.99],
        p50_price: ['approx_percentile', 'price', 0.5], p99_price: ['approx_percentile', 'price', 0.99],
        error_p90_ms: ['approx_percentile', 'latency_ms', 0.9, { where: [['status', '>=', 500]] }],
      },
    },
    latency_all: { input: 'reqs', key: [], window: { tumbling: '1m' }, max_out_of_orderness: '2s', allowed_lateness: '0ms', aggregates: { n: 'count', p99_ms: ['approx_percentile', 'latency_ms', 0.99] } },
  },
};
type Req = { id: string; ts: string; path: string; status: number; latency_ms: number; price: string };
const T0 = Date.UTC(2026, 10, 23, 10);
// Enough that small fetches keep the workers busy past the kill (4,000 were all read before the first commit).
const EVENTS = 30_000;
/** Seeded (mulberry32): latencies spread over five decades, prices of both signs, ~10% 5xx; in time order. */
function requests(): Req[] {
  let a = 7;
  const rnd = () => { a = (a + 0x6d2b79f5) | 0; let t = Math.imul(a ^ (a >>> 15), 1 | a); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  return Array.from({ length: EVENTS }, (_, i) => ({
    id: `r${i}`, ts: new Date(T0 + i * 100).toISOString(), path: `/p${Math.floor(rnd() * 5)}`, status: rnd() < 0.1 ? 503 : 200,
    latency_ms: Math.floor(10 ** (rnd() * 5)), price: ((Math.floor(rnd() * 2_000_000) - 200_000) / 100).toFixed(2),
  }));
}

function startWorker(id: string, extra: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'all', '--worker-id', id, ...extra], {
    cwd: root, env: { ...process.env, ...env, CONCORD_DEFINITIONS: join(ws.dir, 'defs.json'), CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '2048' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) => child.on('exit', (code, signal) => r({ code, signal, stderr })));
  return { child, exited };
}

/** Exact nearest-rank q-quantile of `values`, null over none. */
function exact(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[nearestRank(q, sorted.length) - 1]!;
}

/** The estimate is the bound nearest zero of the exact value's bucket: same sign, within 2^-7 relative, never larger in magnitude. */
function expectBucketOf(estimate: unknown, truth: number | null, where: string): void {
  if (truth === null) return expect(estimate, where).toBeNull();
  expect(typeof estimate, where).toBe('number');
  const e = estimate as number;
  expect(Math.abs(e), where).toBeLessThanOrEqual(Math.abs(truth));
  expect(Math.sign(e) === Math.sign(truth) || e === 0, where).toBe(true);
  expect(Math.abs(truth - e), where).toBeLessThanOrEqual(Math.abs(truth) * 2 ** -7);
}

/** `concord serve`'s /api/pipelines names the aggregates with their quantiles; /windows gives each version's values as the results topic has them. */
async function expectServed(url: string, schema: string | undefined, expected: Record<string, unknown>[], label: string): Promise<void> {
  const registry = await loadDefinitionsFile(join(ws.dir, 'defs.json'));
  const reader = await openStoreReader(url, { registry, ...(schema ? { schema } : {}) });
  const server = await buildServer({ registry, reader, log: createLogger('silent') });
  try {
    const get = async (path: string) => {
      const r = await server.app.inject({ method: 'GET', url: path });
      expect(r.statusCode, `${label} ${path} ${r.body}`).toBe(200);
      return r.json() as Record<string, any>;
    };
    const listed = (await get('/api/pipelines')).pipelines.find((p: any) => p.name === 'latency_by_path');
    expect(listed.aggregates, label).toContainEqual({ name: 'p99_ms', fn: 'approx_percentile', field: 'latency_ms', quantile: 0.99 });
    expect(listed.aggregates, label).toContainEqual({ name: 'error_p90_ms', fn: 'approx_percentile', field: 'latency_ms', quantile: 0.9, where: [{ field: 'status', op: '>=', value: 500 }] });
    // /top of a decimal percentile: each path's windows' p99_price added up exactly at its 2 digits.
    const top = await get('/api/pipelines/latency_by_path/top?by=p99_price&n=10&date=2026-11-23&version=realtime');
    const cents = new Map<string, number>();
    for (const r of expected.filter((x) => x.pipeline === 'latency_by_path')) cents.set(r.path as string, (cents.get(r.path as string) ?? 0) + Math.round((r.p99_price as number) * 100));
    expect(top.keys.map((k: any) => [k.key.path, k.total]), label).toEqual([...cents].map(([path, c]) => [path, c / 100]).sort((x, y) => (y[1] as number) - (x[1] as number)));
    for (const version of ['realtime', 'live']) {
      const served: Record<string, unknown>[] = [];
      for (const p of ['latency_by_path', 'latency_all']) {
        let cursor: string | undefined;
        do {
          const page = await get(`/api/pipelines/${p}/windows?date=2026-11-23&version=${version}&limit=5000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          served.push(...page.rows.map((r: any) => ({ pipeline: p, window_start: r.window_start, ...r.key, ...r.values })));
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
      }
      const pick = (r: Record<string, unknown>) => Object.fromEntries(Object.keys(r).filter((k) => k !== 'revision').sort().map((k) => [k, r[k]]));
      const key = (r: Record<string, unknown>) => JSON.stringify([r.pipeline, r.window_start, r.path ?? null]);
      expect(served.map(pick).sort((x, y) => (key(x) < key(y) ? -1 : 1)), `${label} ${version}`).toEqual(expected.map(pick).sort((x, y) => (key(x) < key(y) ? -1 : 1)));
    }
  } finally {
    await server.close(); // closes its reader too
  }
}

describe('approx_percentile over a real broker', () => {
  it('workers (one killed and restarted), merge stage, sinks and replay agree; each estimate holds the exact value', async () => {
    const events = requests();
    const defs = join(ws.dir, 'defs.json');
    writeFileSync(defs, JSON.stringify(definitions));
    const input = join(ws.dir, 'reqs.jsonl');
    writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const ok = (args: string[], extraEnv: Record<string, string> = {}) => {
      const r = concord([...args, '--definitions', defs], { ...env, ...extraEnv });
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r;
    };
    ok(['produce', '--schema', 'reqs', '--input', input]);

    // Two workers; one SIGKILLed once it has committed some of the input, then restarted; all finish when idle.
    const topic = topicNames(prefix).input('reqs');
    const total = [...(await endOffsets(s, topic)).values()].reduce((x, y) => x + y, 0);
    expect(total).toBe(EVENTS);
    const consumed = async () => [...(await committedOffsets(s, `${prefix}concord-reqs`, topic)).values()].reduce((x, y) => x + y, 0);
    const workers = [startWorker('a'), startWorker('b')];
    for (const started = Date.now(); (await consumed()) === 0;) {
      if (Date.now() - started > 90_000) throw new Error('no commit within 90 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const killedAt = await consumed();
    workers[0]!.child.kill('SIGKILL');
    expect((await workers[0]!.exited).signal).toBe('SIGKILL');
    workers[1]!.child.kill('SIGKILL');
    await workers[1]!.exited;
    const finishers = [startWorker('a', ['--stop-when-idle', '3s']), startWorker('b', ['--stop-when-idle', '3s'])];
    for (const r of await Promise.all(finishers.map((w) => w.exited))) expect(r.code, r.stderr).toBe(0);
    expect(await consumed()).toBe(EVENTS);
    // The kill landed mid-run: restored checkpoints carried the histograms of what was read before it.
    expect(killedAt).toBeLessThan(EVENTS);

    // The truth, from the events alone.
    const cellsOf = (keyed: boolean) => {
      const cells = new Map<string, Req[]>();
      for (const e of events) {
        const start = new Date(Math.floor(Date.parse(e.ts) / 60_000) * 60_000).toISOString();
        const k = keyed ? `${start} ${e.path}` : start;
        const cell = cells.get(k);
        if (cell) cell.push(e);
        else cells.set(k, [e]);
      }
      return cells;
    };
    const byPath = cellsOf(true), all = cellsOf(false);
    const checkRows = (rows: Record<string, unknown>[], label: string) => {
      const keyed = rows.filter((r) => r.pipeline === 'latency_by_path' || (r.pipeline === undefined && 'path' in r));
      const unkeyed = rows.filter((r) => r.pipeline === 'latency_all' || (r.pipeline === undefined && !('path' in r)));
      expect(keyed.length, label).toBe(byPath.size);
      expect(unkeyed.length, label).toBe(all.size);
      for (const r of keyed) {
        const cell = byPath.get(`${r.window_start as string} ${r.path as string}`)!;
        const where = `${label} ${r.window_start as string} ${r.path as string}`;
        expect(r.n, where).toBe(cell.length);
        const ms = cell.map((e) => e.latency_ms), prices = cell.map((e) => Number(e.price));
        expectBucketOf(r.p50_ms, exact(ms, 0.5), `${where} p50_ms`);
        expectBucketOf(r.p99_ms, exact(ms, 0.99), `${where} p99_ms`);
        expectBucketOf(r.p50_price, exact(prices, 0.5), `${where} p50_price`);
        expectBucketOf(r.p99_price, exact(prices, 0.99), `${where} p99_price`);
        expectBucketOf(r.error_p90_ms, exact(cell.filter((e) => e.status >= 500).map((e) => e.latency_ms), 0.9), `${where} error_p90_ms`);
      }
      for (const r of unkeyed) {
        const cell = all.get(r.window_start as string)!;
        expect(r.n, `${label} ${r.window_start as string}`).toBe(cell.length);
        expectBucketOf(r.p99_ms, exact(cell.map((e) => e.latency_ms), 0.99), `${label} ${r.window_start as string} p99_ms`);
      }
    };
    const pick = ['pipeline', 'window_start', 'path', 'n', 'p50_ms', 'p99_ms', 'p50_price', 'p99_price', 'error_p90_ms'];
    const trim = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(pick.filter((k) => k in r).map((k) => [k, r[k]])));
    const sortRows = (rows: Record<string, unknown>[]) => [...rows].sort((x, y) => (JSON.stringify([x.pipeline, x.window_start, x.path]) < JSON.stringify([y.pipeline, y.window_start, y.path]) ? -1 : 1));

    // The merge stage ran: the unkeyed pipeline's histograms crossed the partials topic.
    expect((await topicsStartingWith(prefix)).some((t) => t.includes('concord.partials.reqs'))).toBe(true);

    // The workers' results topic (latest per cell).
    const realtime = join(ws.dir, 'realtime.jsonl');
    ok(['results', '--output', realtime]);
    const streamed = sortRows(trim(jsonLines(readFileSync(realtime, 'utf8'))));
    checkRows(streamed, 'results topic');

    // The replay of the archive: the same numbers, cell for cell (bit-identical bucketing).
    const archive = join(ws.dir, 'archive');
    ok(['archive', '--from-kafka', '--schema', 'reqs', '--dir', archive, '--stop-when-idle', '2s']);
    const replayed: Record<string, unknown>[] = [];
    for (const p of ['latency_by_path', 'latency_all']) {
      const out = join(ws.dir, `replay-${p}.jsonl`);
      ok(['replay', '--pipeline', p, '--input', archive, '--output', out]);
      replayed.push(...trim(jsonLines(readFileSync(out, 'utf8'))).map((r) => ({ pipeline: p, ...r })));
    }
    checkRows(replayed, 'replay');
    // Beside each estimate the replay gives the exact value (DuckDB's quantile_disc): the one computed here.
    const replayedExact = ['latency_by_path', 'latency_all'].flatMap((p) => jsonLines(readFileSync(join(ws.dir, `replay-${p}.jsonl`), 'utf8')));
    for (const r of replayedExact) {
      const cell = 'path' in r ? byPath.get(`${r.window_start as string} ${r.path as string}`)! : all.get(r.window_start as string)!;
      const ms = cell.map((e) => e.latency_ms);
      const want: Record<string, number | null> = { p99_ms_exact: exact(ms, 0.99) };
      if ('path' in r) {
        Object.assign(want, { p50_ms_exact: exact(ms, 0.5), p50_price_exact: exact(cell.map((e) => Number(e.price)), 0.5), p99_price_exact: exact(cell.map((e) => Number(e.price)), 0.99),
          error_p90_ms_exact: exact(cell.filter((e) => e.status >= 500).map((e) => e.latency_ms), 0.9) });
      }
      expect(Object.fromEntries(Object.entries(r).filter(([k]) => k.endsWith('_exact'))), `${r.window_start as string} ${String(r.path)}`).toEqual(want);
    }
    expect(sortRows(replayed)).toEqual(streamed);

    // Sunk into both stores, reconciled: every cell equal, nothing unexplained.
    const stores = [
      { url: `duckdb:${join(ws.dir, 'store.duckdb')}`, extra: {} as Record<string, string> },
      { url: PG_URL, extra: { CONCORD_STORE_SCHEMA: schemas.next('pctk') } },
    ];
    for (const st of stores) {
      ok(['sink', '--from-kafka', '--store', st.url, '--stop-when-idle', '2s', '--group', `${prefix}sink-${st.url.startsWith('duckdb') ? 'duck' : 'pg'}`], st.extra);
      const reconciled = ok(['reconcile', '--date', '2026-11-23', '--archive', archive, '--store', st.url, '--pipeline', 'all', '--report-dir', join(ws.dir, `reports-${st.extra.CONCORD_STORE_SCHEMA ?? 'duck'}`)], st.extra).stdout;
      for (const p of ['latency_by_path', 'latency_all']) {
        const cells = p === 'latency_by_path' ? byPath.size : all.size;
        expect(reconciled, `${st.url}\n${reconciled}`).toMatch(new RegExp(`\\| ${p} \\| reconciled \\| 1 \\| ${cells} \\| ${cells} \\| 0 \\| 0 \\| 0 \\|`));
      }
      await expectServed(st.url, st.extra.CONCORD_STORE_SCHEMA, streamed, `${st.url} served`);
    }
  }, 600_000);
});
