import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { dateIn, datesBetween, jobId, previousDate } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobProcessors } from '../../jobs/job-worker.ts';
import { pageViewsPerMinute, seedPipelineNames, seedRegistry } from '../../examples/seed.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { until as untilReady } from '../fixtures/jobs-cli.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { runStream } from '../../stream/runtime.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Real Redis (REDIS_URL, or a redis-server of this test's own), real PostgreSQL; a unique queue
// prefix and store schema per test. Waits poll with deadlines.
const ws = tempWorkspace();
const PG = PG_URL;
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const schemas = testSchemas();
afterAll(async () => {
  ws.cleanup();
  await schemas.drop();
});

const prefix = () => `cj${randomUUID().slice(0, 8)}`;
const DATE = '2026-11-23';
const P = pageViewsPerMinute.name;
const U = 'unique_visitors_5m', F = 'fraud_multi_country';

const until = <T>(what: string, fn: () => Promise<T | undefined | false>, deadlineMs = 30_000) => untilReady(what, fn, deadlineMs, 50);

describe('jobs on BullMQ with the real reconciliation', () => {
  const schema = schemas.next('j');
  const archiveDir = join(ws.dir, 'archive');
  beforeAll(async () => {
    const day = generateDay({ seed: 3, date: DATE, clicks: 5_000, transactions: 0, lateFraction: 0.01 });
    const store = await openStore(PG, { schema, registry: seedRegistry() });
    const sink = new StoreSink(store);
    await runStream({
      pipelines: [pageViewsPerMinute], source: memoryBatches('file:clicks.jsonl', day.clicks, 1000),
      onResult: (r) => sink.result(r), onLate: (l) => sink.lateEvent(l, false), onDeadLetter: () => undefined,
    });
    await sink.flush();
    await store.close();
    await new ParquetArchive(archiveDir, pageViewsPerMinute.schema).write(memoryBatches('file:clicks.jsonl', day.clicks, 1000));
  }, 60_000);

  it('the same date enqueued twice (and as part of `all`), two workers: one reconciliation, one new version', async () => {
    const q = prefix();
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q });
    const stores = [await openStore(PG, { schema, registry: seedRegistry() }), await openStore(PG, { schema, registry: seedRegistry() })];
    const runs: string[] = [];
    const workers = stores.map((store, i) => {
      const real = defaultProcessors({ store, registry: seedRegistry(), archiveDir });
      const counted: JobProcessors = { ...real, reconcile: async (req, progress) => { runs.push(`${i}:${req.jobId}`); return real.reconcile(req, progress); } };
      return startWorker(counted, { redisUrl: REDIS, prefix: q });
    });
    try {
      const a = await jobs.enqueueReconcile(DATE, P);
      const b = await jobs.enqueueReconcile(DATE, P);
      const all = await jobs.enqueueReconcile(DATE, 'all');
      expect(a.map((j) => j.id)).toEqual([jobId('reconcile', P, DATE)]);
      expect(b.map((j) => j.id)).toEqual(a.map((j) => j.id));
      expect(all.map((j) => j.id)).toContain(a[0]!.id);
      // State first, then the job: a job read before its completion keeps a null returnvalue even once
      // its state reads 'completed' (seen once in CI).
      const job = await until('the reconcile job to complete', async () => {
        const id = String(a[0]!.id);
        return (await jobs.queue.getJobState(id)) === 'completed' ? await jobs.queue.getJob(id) : undefined;
      }, 60_000);
      expect(job.returnvalue).toMatchObject({ pipeline: P, date: DATE, generation: 1, unexplained: 0 });
      expect((job.returnvalue as { different: number }).different).toBeGreaterThan(0);
      expect(runs.filter((r) => r.endsWith(String(a[0]!.id)))).toHaveLength(1);
      const status = await stores[0]!.status(P, DATE);
      expect(status).toMatchObject({ liveGeneration: 1, generations: [1] });
      expect(await stores[0]!.reconciliations(P, DATE)).toHaveLength(1);
      // The status command's view: completed, one attempt, with its result.
      expect((await jobs.status(DATE)).find((s) => s.id === a[0]!.id)).toMatchObject({ state: 'completed', attemptsMade: 1 });
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
      for (const s of stores) await s.close();
    }
  }, 120_000);
});

describe('job semantics with test processors (real Redis)', () => {
  const noop = async () => ({});

  it('a lock per (pipeline, date): a forced rerun never runs at the same time as the first run', async () => {
    const q = prefix();
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q });
    const spans: [number, number][] = [];
    const slow: JobProcessors = { reconcile: async () => { const s = Date.now(); await new Promise((r) => setTimeout(r, 400)); spans.push([s, Date.now()]); return {}; }, backfill: noop };
    const workers = [0, 1].map(() => startWorker(slow, { redisUrl: REDIS, prefix: q, lockRetryMs: 100 }));
    try {
      const [first] = await jobs.enqueueReconcile(DATE, P);
      const [rerun] = await jobs.enqueueReconcile(DATE, P, true);
      expect(rerun!.id).not.toBe(first!.id);
      await until('both runs', async () => spans.length === 2, 30_000);
      spans.sort((x, y) => x[0] - y[0]);
      expect(spans[1]![0]).toBeGreaterThanOrEqual(spans[0]![1]);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
    }
  }, 60_000);

  it('retries with exponential backoff; a failure that retrying cannot fix fails at once, with its reason', async () => {
    const q = prefix();
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q, attempts: 4, backoffMs: 200 });
    const attempts: number[] = [];
    const flaky: JobProcessors = {
      reconcile: async () => {
        attempts.push(Date.now());
        if (attempts.length < 3) throw new Error(`store unreachable (attempt ${attempts.length})`);
        return { ok: true };
      },
      backfill: async () => { throw new ConcordError('archive directory /nope does not exist', { domain: 'user' }); },
    };
    const worker = startWorker(flaky, { redisUrl: REDIS, prefix: q });
    try {
      const [job] = await jobs.enqueueReconcile(DATE, P);
      await until('the flaky job to complete', async () => (await (await jobs.queue.getJob(String(job!.id)))?.getState()) === 'completed', 30_000);
      expect(attempts).toHaveLength(3);
      const gaps = [attempts[1]! - attempts[0]!, attempts[2]! - attempts[1]!];
      expect(gaps[0]).toBeGreaterThanOrEqual(200);
      expect(gaps[1]).toBeGreaterThanOrEqual(400); // exponential: 200, 400
      expect((await jobs.queue.getJob(String(job!.id)))!.attemptsMade).toBe(3);
      const [bad] = await jobs.enqueueBackfill([DATE], P, async () => new Map([[DATE, 1]]));
      await until('the bad job to fail', async () => (await (await jobs.queue.getJob(String(bad!.id)))?.getState()) === 'failed', 30_000);
      const seen = (await jobs.status(DATE)).find((s) => s.id === bad!.id)!;
      expect(seen).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(seen.failedReason).toContain('archive directory /nope does not exist');
    } finally {
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
    }
  }, 60_000);

  it('the nightly scheduler (cron + time zone) enqueues the previous date; backfill only for dirty dates', async () => {
    const q = prefix();
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q });
    try {
      await jobs.schedule('0 2 * * *', 'Europe/Paris');
      expect(await jobs.queue.getJobScheduler('nightly-reconcile')).toMatchObject({ pattern: '0 2 * * *', tz: 'Europe/Paris' });
      await jobs.schedule('30 3 * * *', 'UTC'); // upsert: still one scheduler
      expect((await jobs.queue.getJobSchedulers()).map((s) => [s.pattern, s.tz])).toEqual([['30 3 * * *', 'UTC']]);
      // The nightly job carries its cron: the run after a DST change finds the date the run before took (nightlyDates).
      expect((await jobs.queue.getJobScheduler('nightly-reconcile'))?.template?.data).toMatchObject({ kind: 'nightly', timeZone: 'UTC', cron: '30 3 * * *' });
      expect(previousDate(Date.UTC(2026, 10, 24, 2, 0), 'UTC')).toBe('2026-11-23');
      expect(previousDate(Date.UTC(2026, 10, 24, 1, 30), 'Europe/Paris')).toBe('2026-11-23'); // 02:30 on the 24th in Paris
      // East of UTC the local day before may not have ended in UTC: 02:00 on the 24th in Tokyo is 17:00 UTC on the 23rd.
      expect(previousDate(Date.UTC(2026, 10, 23, 17, 0), 'Asia/Tokyo')).toBe('2026-11-22');
      expect(previousDate(Date.UTC(2026, 10, 23, 12, 0), 'Pacific/Kiritimati')).toBe('2026-11-22');
      expect(previousDate(Date.UTC(2026, 10, 24, 7, 0), 'America/New_York')).toBe('2026-11-23'); // 02:00 on the 24th in New York
      expect(dateIn(Date.UTC(2026, 10, 23, 23, 30), 'UTC')).toBe('2026-11-23');
      // What the scheduler's job does when it runs: one reconcile job per pipeline for the previous date.
      await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC' }, { jobId: 'nightly-test' });
      // U's days stay open 23 h past midnight (24 h windows every hour), the others' 6 minutes (B + L).
      const dayEnd = (d: string) => Date.parse(`${d}T00:00:00.000Z`) + 86_400_000;
      const dayFinalAt = (p: string, d: string) => dayEnd(d) + (p === U ? 23 * 3_600_000 : 6 * 60_000);
      const store = 'duckdb:/srv/concord/nightly.duckdb';
      // The nightly run's clock: the second run below is one at 02:00 on the 24th, on time.
      let clock: number | undefined;
      const worker = startWorker({ reconcile: noop, backfill: noop, dayFinalAt }, { redisUrl: REDIS, prefix: q, pipelines: seedPipelineNames, attempts: 4, store, now: () => clock ?? Date.now() });
      // A job whose worker died is handed on as often as a failing one is retried (BullMQ's default: once).
      expect(worker.opts.maxStalledCount).toBe(4);
      try {
        const expected = previousDate(Date.now(), 'UTC');
        await until('the nightly fan-out', async () => (await jobs.queue.getJob(jobId('reconcile', P, expected))) !== undefined, 30_000);
        // At 02:00 the 23rd's last 24 h window is open until 23:00: U reconciles the 22nd, whose windows closed, the others the 23rd.
        clock = Date.parse('2026-11-24T02:00:00.000Z');
        const night = await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC', cron: '0 2 * * *' }, { jobId: 'nightly-long-windows', timestamp: clock });
        await until('the second fan-out', async () => (await jobs.queue.getJob(String(night.id)))?.finishedOn !== undefined, 30_000);
        expect((await jobs.queue.getJob(String(night.id)))!.returnvalue).toMatchObject({ date: '2026-11-23', dates: ['2026-11-22', '2026-11-23'] });
        // Each fanned-out job carries the worker's store, as a `jobs enqueue --store` would (/api/jobs shows it).
        for (const [p, d] of [[P, '2026-11-23'], [F, '2026-11-23'], [U, '2026-11-22']] as const) expect((await jobs.queue.getJob(jobId('reconcile', p, d)))?.data, `${p} ${d}`).toMatchObject({ store });
        expect(await jobs.queue.getJob(jobId('reconcile', U, '2026-11-23'))).toBeUndefined();
      } finally {
        await worker.close();
      }
      const added = await jobs.enqueueBackfill(datesBetween('2026-11-20', '2026-11-23'), P, async () => new Map([['2026-11-21', 5], ['2026-11-23', 9]]));
      expect(added.map((j) => j.id)).toEqual([jobId('backfill', P, '2026-11-21', 'd5'), jobId('backfill', P, '2026-11-23', 'd9')]);
      expect((await jobs.enqueueBackfill(datesBetween('2026-11-20', '2026-11-23'), P, async () => new Map([['2026-11-21', 5]]))).map((j) => j.id)).toEqual([added[0]!.id]);
    } finally {
      await jobs.queue.obliterate({ force: true });
      await jobs.forgetNightly(); // the nightly runs' record is not among the keys obliterate removes
      await jobs.close();
    }
  }, 60_000);
});

describe('Redis restarted in the middle of a job', () => {
  let redis: ChildProcess | undefined;
  const port = 16_400 + Math.floor(Math.random() * 500);
  const dir = join(ws.dir, 'redis');
  const startRedis = async () => {
    spawnSync('mkdir', ['-p', dir]);
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--save', ''], { stdio: 'ignore' });
    await until('redis to answer', async () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10_000);
  };
  afterAll(() => { spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']); redis?.kill('SIGKILL'); });

  it('the job completes and its effect happens exactly once', async () => {
    const phases: string[] = [];
    // Phases go to stderr as they happen too: if this ever hangs, the log says where.
    const phase = (p: string) => { phases.push(`${new Date().toISOString()} ${p}`); process.stderr.write(`redis-restart test: ${p}\n`); };
    await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const schema = schemas.next('r');
    const db = new pg.Client({ connectionString: PG, connectionTimeoutMillis: 10_000, statement_timeout: 10_000 });
    await db.connect();
    phase('redis up, postgres connected');
    await db.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.effects (job_id TEXT PRIMARY KEY, at BIGINT)`);
    let started = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const effectful: JobProcessors = {
      // Idempotent by job id, like the store's writes: a second attempt could not double the effect.
      reconcile: async ({ jobId: id }) => {
        started++;
        phase(`processor started (${started})`);
        await gate;
        await db.query(`INSERT INTO ${schema}.effects VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING`, [id, Date.now()]);
        phase('effect written');
        return { done: true };
      },
      backfill: async () => ({}),
    };
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: url, prefix: 'restart' });
    const worker = startWorker(effectful, { redisUrl: url, prefix: 'restart', log: phase });
    const bounded = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 5_000))]);
    try {
      const [job] = await jobs.enqueueReconcile(DATE, P);
      phase('enqueued');
      await until('the job to start', async () => started > 0, 20_000);
      spawnSync('redis-cli', ['-p', String(port), 'shutdown']); // persists (appendonly) and stops
      await until('redis to stop', async () => redis!.exitCode !== null || redis!.signalCode !== null, 10_000);
      phase('redis stopped');
      await startRedis();
      phase('redis started again');
      release();
      await until('the job to complete after the restart', async () => (await (await jobs.queue.getJob(String(job!.id)))?.getState()) === 'completed', 60_000);
      phase('completed');
      const rows = await db.query(`SELECT job_id FROM ${schema}.effects`);
      expect(rows.rows.map((r) => r.job_id)).toEqual([job!.id]);
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${phases.join('\n')}`);
    } finally {
      release();
      await bounded(worker.close(true));
      await bounded(jobs.close());
      await db.end();
    }
  }, 110_000);
});
