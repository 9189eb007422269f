import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { ConcordJobs, QUEUE } from '../../jobs/job-queue.ts';
import { registerWorker, storeIdentity } from '../../jobs/worker-registry.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { JobsView } from '../../serve/jobs-view.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { DATE, F, P, U } from '../fixtures/serve-api.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { concord } from '../fixtures/cli.ts';
import { ridesRegistry } from '../fixtures/rides-store.ts';

// `concord serve` on a store nothing has been written to yet (PostgreSQL; a DuckDB file that is not
// there is refused), and its jobs view over BullMQ (Redis), working and not answering.
const ws = tempWorkspace('concord-serve-api-empty-');
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

describe('concord serve on an empty store, and with BullMQ jobs', () => {
  const registry = seedRegistry();
  const prefix = `serve-test-${randomUUID().slice(0, 8)}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

  it('PostgreSQL (no tables yet): answers empty, says what to run, creates nothing', async () => {
    const reader = await openStoreReader(PG_URL, { registry, schema: schemas.next('empty') });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    try {
      const status = (await server.app.inject('/api/status')).json();
      expect(status).toMatchObject({ empty: true, store: { status: 'ok', empty: true } });
      expect(status.hint).toMatch(/concord demo/);
      expect((await server.app.inject('/api/days')).json().days).toEqual([]);
      expect((await server.app.inject(`/api/pipelines/${P}/windows`)).json().rows).toEqual([]);
      expect((await server.app.inject(`/api/pipelines/${F}/alerts`)).json().rows).toEqual([]);
      const day = await server.app.inject(`/api/days/${DATE}`);
      expect(day.statusCode).toBe(200);
      expect(day.json().pipelines.map((p: { empty: boolean }) => p.empty)).toEqual(registry.pipelines.map(() => true));
      expect((await server.app.inject('/metrics')).body).toContain('concord_store_up 1');
      const page = await server.app.inject('/');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    } finally {
      await server.close();
    }
  });

  it('an empty schema of a DuckDB file that holds results under another: the hint names that schema', async () => {
    const path = join(ws.dir, `two-schemas-${randomUUID()}.duckdb`);
    const writer = await openStore(`duckdb:${path}`, { registry, schema: 'team_a' });
    await writer.writeRealtime([{ kind: 'window', pipeline: P, windowStart: Date.parse(`${DATE}T10:00:00Z`), windowEnd: Date.parse(`${DATE}T10:01:00Z`),
      key: { url: '/a' }, values: { views: 1 }, revision: 0, watermark: null, definitionVersion: definitionVersion(registry.pipeline(P)) }]);
    await writer.close();
    const reader = await openStoreReader(`duckdb:${path}`, { registry, schema: 'team_b' });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    try {
      const status = (await server.app.inject('/api/status')).json();
      expect(status).toMatchObject({ empty: true, store: { status: 'ok', empty: true, schema: 'team_b' } });
      expect(status.hint).toMatch(/concord demo.*; the same database holds Concord results in schema team_a: .*CONCORD_STORE_SCHEMA=team_a\)$/);
    } finally {
      await server.close();
    }
  });

  // A sink that wrote nothing creates the tables: /api/days said `empty: false` and /api/status
  // contradicted itself (`store.empty: false`, top-level `empty: true`).
  it('PostgreSQL with tables but no result: every answer says empty', async () => {
    const schema = schemas.next('tables');
    const writer = await openStore(PG_URL, { registry, schema });
    await writer.close();
    const reader = await openStoreReader(PG_URL, { registry, schema });
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    try {
      expect((await server.app.inject('/api/status')).json()).toMatchObject({ empty: true, store: { status: 'ok', empty: true } });
      expect((await server.app.inject('/api/days')).json()).toMatchObject({ empty: true, days: [] });
      expect((await server.app.inject(`/api/days/${DATE}`)).json()).toMatchObject({ empty: true });
    } finally {
      await server.close();
    }
  });

  // `report` and /api/days/{date} decided "no data" from different reads: a day holding only late
  // events (its windows were never written into the store) was empty to `report`, not to the API.
  it('a day holding only late events is not empty, to `report` and the API alike (one predicate)', async () => {
    const path = join(ws.dir, `late-only-${randomUUID()}.duckdb`);
    const writer = await openStore(`duckdb:${path}`, { registry });
    const ts = Date.parse(`${DATE}T10:00:05Z`);
    await writer.appendLate(P, [{ evaluatedOnArrival: false, record: {
      pipeline: P, event: { event_id: 'e1', ts, url: '/a', visitor_id: 'v1' }, watermark: ts + 60_000, windowStart: ts - 5_000, windowEnd: ts + 55_000, position: { source: 'file:x.jsonl', offset: 7 },
    } }]);
    // The stream's rows are of the next day: the late event is of a day whose windows it never wrote.
    const next = Date.parse(`${DATE}T00:00:00Z`) + 86_400_000;
    await writer.writeRealtime([{ kind: 'window', pipeline: P, key: { url: '/a' }, values: { views: 1 }, windowStart: next, windowEnd: next + 60_000, revision: 0, watermark: null, definitionVersion: definitionVersion(registry.pipeline(P)) }]);
    expect(await writer.holdsNothing(P, DATE)).toBe(false);
    expect(await writer.holdsNothing(U, DATE)).toBe(true);
    await writer.close();
    const report = concord(['report', '--date', DATE, '--format', 'json', '--store', `duckdb:${path}`]);
    expect(report.code, report.stderr).toBe(0);
    const reported = JSON.parse(report.stdout) as { pipelines: { pipeline: string; empty: boolean }[] };
    const server = await buildServer({ registry, reader: await openStoreReader(`duckdb:${path}`, { registry }), log: createLogger('silent') });
    try {
      const day = (await server.app.inject(`/api/days/${DATE}`)).json() as { pipelines: { pipeline: string; empty: boolean }[] };
      const byName = (ps: { pipeline: string; empty: boolean }[]) => Object.fromEntries(ps.map((p) => [p.pipeline, p.empty]));
      expect(byName(day.pipelines)).toEqual(byName(reported.pipelines));
      expect(byName(day.pipelines)).toMatchObject({ [P]: false, [U]: true, [F]: true });
    } finally {
      await server.close();
    }
  });

  // Served with other definitions than the store was filled with: /api/status said "no results yet: run
  // concord demo" while /api/days listed days.
  it('a store of other pipelines than the loaded definitions: /api/status says so and names the schema', async () => {
    const schema = schemas.next('others');
    const rides = ridesRegistry().registry;
    const writer = await openStore(PG_URL, { registry: rides, schema });
    const def = rides.pipelines.find((p) => p.kind === 'windowed')!;
    const t = Date.parse(`${DATE}T10:00:00Z`);
    await writer.writeRealtime([{ kind: 'window', pipeline: def.name, key: { city: 'Lisbon' }, values: { rides: 1 }, windowStart: t, windowEnd: t + 60_000, revision: 0, watermark: null, definitionVersion: definitionVersion(def) }]);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(PG_URL, { registry, schema }), log: createLogger('silent') });
    try {
      const status = (await server.app.inject('/api/status')).json();
      expect(status).toMatchObject({ empty: true, store: { status: 'ok', empty: false, schema }, other_pipelines: [def.name] });
      expect(status.hint).toBe(`the store holds results of ${def.name}, none of the loaded definitions' pipelines (${registry.pipelines.map((p) => p.name).join(', ')}): ` +
        'start `concord serve` with the --definitions the store was filled with (or CONCORD_DEFINITIONS)');
    } finally {
      await server.close();
    }
  });

  // A pipeline renamed or removed from the definitions: its days stay in the store under the old name, and
  // nothing said so while the store held some of the loaded pipelines' results too.
  it('a store that also holds a pipeline the definitions no longer name: /api/status lists it, no empty hint', async () => {
    const schema = schemas.next('dc27');
    const writer = await openStore(PG_URL, { registry, schema });
    const def = registry.pipeline(P);
    const t = Date.parse(`${DATE}T10:00:00Z`);
    const row = (pipeline: string) => ({ kind: 'window' as const, pipeline, key: { url: '/a' }, values: { views: 1 }, windowStart: t, windowEnd: t + 60_000, revision: 0, watermark: null, definitionVersion: definitionVersion(def) });
    await writer.writeRealtime([row(P), row('page_views_old_name')]);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(PG_URL, { registry, schema }), log: createLogger('silent') });
    try {
      const status = (await server.app.inject('/api/status')).json();
      expect(status).toMatchObject({ empty: false, other_pipelines: ['page_views_old_name'] });
      expect(status.hint).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('DuckDB (no file): a user error naming the path, and the file is not created', async () => {
    const path = join(ws.dir, 'nothing', 'store.duckdb');
    const opening = openStoreReader(`duckdb:${path}`, { registry });
    await expect(opening).rejects.toBeInstanceOf(ConfigError);
    await expect(opening).rejects.toThrow(`no store at ${path}: run \`concord stream --store duckdb:${path} ...\` or \`concord demo\` first, or check --store`);
    expect(existsSync(path)).toBe(false);
  });

  it('jobs: BullMQ queue counts and the last run per (kind, pipeline, date) with progress and errors', async () => {
    const jobs = new ConcordJobs(registry.pipelines.map((p) => p.name), { redisUrl, prefix, attempts: 1 });
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const RETRIED = '2026-11-21';
    const retrying = new ConcordJobs(registry.pipelines.map((p) => p.name), { redisUrl, prefix, attempts: 2, backoffMs: 10 });
    const worker = new Worker(QUEUE, async (job) => {
      if (job.data.date === RETRIED) {
        if (job.attemptsMade === 0) throw new Error('the store went away');
        return { generation: 1 };
      }
      await job.updateProgress({ done: 1, total: 3, what: 'replay' });
      throw new Error('the archive has no files for this day');
    }, { connection, prefix, autorun: false });
    const reader = await openStoreReader(PG_URL, { registry, schema: schemas.next('jobs') });
    const server = await buildServer({ registry, reader, log: createLogger('silent'), jobs: new JobsView(redisUrl, { prefix }) });
    try {
      const theStore = storeIdentity(PG_URL, 'jobs_store');
      await jobs.enqueueReconcile(DATE, P, false, { store: theStore });
      await jobs.enqueueReconcile('2026-11-22', U);
      let body = (await server.app.inject('/api/jobs')).json();
      expect(body).toMatchObject({ enabled: true, counts: { waiting: 2, failed: 0 }, workers: [], schedule: null });
      await jobs.schedule('30 1 * * *', 'Europe/Paris');
      expect((await server.app.inject('/api/jobs')).json().schedule).toMatchObject({ cron: '30 1 * * *', tz: 'Europe/Paris', next_run: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:30:00\.000Z$/) });
      expect(body.runs.map((r: any) => [r.kind, r.pipeline, r.date, r.state, r.store]).sort()).toEqual([['reconcile', P, DATE, 'waiting', theStore], ['reconcile', U, '2026-11-22', 'waiting', null]]);
      // The workers alive, with the store each writes: which one a job enqueued for a store waits for.
      const registered = registerWorker(connection, prefix, theStore, ws.dir);
      for (let t = Date.now(); (await server.app.inject('/api/jobs')).json().workers.length === 0 && Date.now() - t < 5_000;) await new Promise((r) => setTimeout(r, 50));
      expect((await server.app.inject('/api/jobs')).json().workers).toEqual([{ id: registered.info.id, host: hostname(), pid: process.pid, store: theStore, archive: resolve(ws.dir), started_at: registered.info.startedAt }]);
      await retrying.enqueueReconcile(RETRIED, F);
      void worker.run();
      for (let t = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
        body = (await server.app.inject('/api/jobs')).json();
        if ((body.counts.failed === 2 && body.counts.completed === 1) || Date.now() - t > 20_000) break;
      }
      expect(body.counts).toMatchObject({ waiting: 0, failed: 2, completed: 1 });
      expect(body.runs.find((r: any) => r.pipeline === P)).toMatchObject({ state: 'failed', failed_reason: 'the archive has no files for this day', last_error: 'the archive has no files for this day', progress: { done: 1, total: 3, what: 'replay' }, attempts: 1 });
      // Completed by its retry: no failure shown as the run's, the first attempt's error kept as last_error.
      expect(body.runs.find((r: any) => r.date === RETRIED)).toMatchObject({ state: 'completed', failed_reason: null, last_error: 'the store went away', result: { generation: 1 }, attempts: 2 });
      const metrics = (await server.app.inject('/metrics')).body;
      expect(metrics).toMatch(/^concord_jobs\{state="failed"\} 2$/m);
      expect(metrics).toMatch(/^concord_jobs_workers 1$/m);
      expect(metrics).toMatch(/^concord_redis_up 1$/m);
      expect(metrics).toMatch(/^concord_jobs_nightly_scheduled 1$/m);
      await registered.stop();
      expect((await server.app.inject('/api/jobs')).json().workers).toEqual([]);
    } finally {
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
      await retrying.close();
      connection.disconnect();
      await server.close();
    }
  }, 60_000);

  it('jobs: a Redis that does not answer is a 503 within seconds, not a hang', async () => {
    const reader = await openStoreReader(PG_URL, { registry, schema: schemas.next('jobs') });
    const server = await buildServer({ registry, reader, log: createLogger('silent'), jobs: new JobsView('redis://:s3cretpw@127.0.0.1:1', { timeoutMs: 1_000 }) });
    try {
      const t = performance.now();
      const r = await server.app.inject('/api/jobs');
      expect(r.statusCode).toBe(503);
      expect(r.json().error).toMatch(/Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
      expect(r.body).not.toContain('s3cretpw'); // a URL with an empty user kept its password in the answer
      expect(performance.now() - t).toBeLessThan(5_000);
      const metrics = (await server.app.inject('/metrics')).body;
      expect(metrics).toMatch(/^concord_redis_up 0$/m);
    } finally {
      await server.close();
    }
  });
});
