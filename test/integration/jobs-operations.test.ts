import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';
import { pageViewsPerMinute, seedPipelineNames, seedRegistry } from '../../examples/seed.ts';
import { batchesOf } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { runStream } from '../../stream/runtime.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// How an operator runs jobs, through the real CLI: real Redis (REDIS_URL or 127.0.0.1:6379, plus
// redis-servers of this file's own for outages), real PostgreSQL and DuckDB stores, unique queue
// prefixes and schemas. Children are spawned asynchronously so in-process workers keep working.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-jobs-ops-');
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const schemas = testSchemas();
const DATE = '2026-11-23';
const EMPTY = '2026-11-20';
const P = pageViewsPerMinute.name;
const archiveDir = join(ws.dir, 'archive');
const prefix = () => `cjo${randomUUID().slice(0, 8)}`;
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  ws.cleanup();
  await schemas.drop();
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, deadlineMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - started > deadlineMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** The real CLI in a child process; resolves when it exits (or is killed at `timeoutMs`: signal SIGKILL). */
function concord(args: string[], env: Record<string, string | undefined>, timeoutMs = 90_000): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => { stdout += String(d); });
  child.stderr!.on('data', (d) => { stderr += String(d); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => child.on('exit', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
  }));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** Processes whose command line contains `marker` (Linux /proc). */
function processesWith(marker: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && Number(pid) !== process.pid) out.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

beforeAll(async () => {
  const day = generateDay({ seed: 7, date: DATE, clicks: 600, transactions: 0, lateFraction: 0 });
  await new ParquetArchive(archiveDir, pageViewsPerMinute.schema).write(asAsync(batchesOf('file:clicks.jsonl', day.clicks, 1000)));
}, 60_000);

describe('jobs through the CLI, a worker on PostgreSQL', () => {
  const schema = schemas.next('jo');
  const q = prefix();
  const env = { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q, CONCORD_STORE: PG_URL, CONCORD_STORE_SCHEMA: schema, CONCORD_JOB_ATTEMPTS: '3', CONCORD_JOB_BACKOFF_MS: '100' };
  let jobs: ConcordJobs;
  let stop: () => Promise<void>;
  let store: Awaited<ReturnType<typeof openStore>>;

  beforeAll(async () => {
    store = await openStore(PG_URL, { schema, registry: seedRegistry() });
    // The day's stream rows, so reconcile has something to compare with.
    // ... and of EMPTY, whose events were never archived.
    const day = generateDay({ seed: 7, date: DATE, clicks: 600, transactions: 0, lateFraction: 0 });
    const unarchived = generateDay({ seed: 8, date: EMPTY, clicks: 200, transactions: 0, lateFraction: 0 });
    const sink = new StoreSink(store);
    for (const [name, clicks] of [['clicks-20.jsonl', unarchived.clicks], ['clicks.jsonl', day.clicks]] as const) { // two runs: the generator's event ids repeat per day
      await runStream({
        pipelines: [pageViewsPerMinute], source: asAsync(batchesOf(`file:${name}`, clicks, 1000)),
        onResult: (r) => sink.result(r), onLate: (l) => sink.lateEvent(l, false), onDeadLetter: () => undefined,
      });
    }
    await sink.flush();
    jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q });
    const worker = startWorker(defaultProcessors({ store, registry: seedRegistry(), archiveDir }), {
      redisUrl: REDIS, prefix: q, store: storeIdentity(PG_URL, schema), pipelines: seedPipelineNames, attempts: 3, backoffMs: 100,
    });
    stop = async () => {
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
      await store.close();
    };
    await until('the worker to register its store', async () => (await jobs.workers()).length === 1);
  }, 60_000);
  afterAll(async () => stop?.());

  it('a date with no archived events fails at once with the reason; enqueueing it again says why nothing happens and how to retry', async () => {
    const id = jobId('reconcile', P, EMPTY);
    const first = await concord(['jobs', 'enqueue', '--date', EMPTY, '--pipeline', P, '--wait'], env);
    expect(first.signal, first.stdout + first.stderr).toBeNull(); // --wait exits by itself
    expect(first.code, first.stderr).toBe(1);
    expect(first.stdout).toContain(`${id} failed: no archived events for ${EMPTY} in ${archiveDir}: archive the day first, or pass --allow-empty`);
    const failed = (await jobs.current([id]))[0]!;
    expect(failed).toMatchObject({ state: 'failed', attemptsMade: 1 }); // unrecoverable: no retries
    expect((await store.status(P, EMPTY)).generations).toEqual([]); // nothing published

    const again = await concord(['jobs', 'enqueue', '--date', EMPTY, '--pipeline', P], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`${id} failed earlier (attempts=1): no archived events for ${EMPTY}`);
    expect(again.stderr).toContain(`${id} was not enqueued again`);
    expect(again.stderr).toContain(`concord jobs retry --date ${EMPTY} --pipeline ${P}`);
    expect(again.stderr).toContain(`concord jobs enqueue --date ${EMPTY} --pipeline ${P} --force`);

    const finishedBefore = (await jobs.queue.getJob(id))!.finishedOn!;
    const retry = await concord(['jobs', 'retry', '--date', EMPTY, '--pipeline', P], env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toBe(`${id} retried: waiting\n`);
    const rerun = await until('the retried job to fail again', async () => {
      const j = await jobs.queue.getJob(id);
      return j && (await j.getState()) === 'failed' && j.finishedOn! > finishedBefore ? (await jobs.queue.getJob(id))! : undefined;
    });
    expect(rerun.failedReason).toContain('no archived events');
    const none = await concord(['jobs', 'retry', '--date', DATE, '--pipeline', P], env);
    expect(none.stdout).toContain(`no failed job of ${DATE} to retry`);

    // Asked explicitly, the archive check is skipped: the job reconciles the day (the stream's rows of
    // the date against an empty replay) instead of refusing; what reconcile then decides is its own.
    const allowed = await concord(['jobs', 'enqueue', '--date', EMPTY, '--pipeline', P, '--force', '--allow-empty', '--wait'], env);
    expect(allowed.signal, allowed.stdout + allowed.stderr).toBeNull();
    expect(allowed.stdout).not.toContain('no archived events');
    const forcedId = /^(reconcile__\S+__rerun-\d+) /m.exec(allowed.stdout)?.[1];
    expect(forcedId, allowed.stdout).toBeDefined();
    expect((await store.reconciliations(P, EMPTY)).map((r) => r.job_id)).toContain(forcedId);
  }, 180_000);

  it('enqueue --wait of a day with data prints the result and exits 0; enqueueing the completed job again says so', async () => {
    const run = await concord(['jobs', 'enqueue', '--date', DATE, '--pipeline', P, '--wait'], env);
    expect(run.signal, run.stderr).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    const id = jobId('reconcile', P, DATE);
    expect(run.stdout).toContain(`${id} completed {"pipeline":"${P}","date":"${DATE}","generation":1`);
    const again = await concord(['jobs', 'enqueue', '--date', DATE, '--pipeline', P], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${id} completed earlier: not run again`);
    expect((await store.status(P, DATE)).generations).toEqual([1]);
  }, 120_000);

  it('commands and the worker must agree on the store: backfill without --store, or with another store, is refused', async () => {
    const theirs = storeIdentity(PG_URL, schema);
    const noStore = await concord(['jobs', 'backfill', '--from', DATE, '--to', DATE], { ...env, CONCORD_STORE: undefined, CONCORD_STORE_SCHEMA: undefined });
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toBe(`concord jobs: the worker on queue prefix ${q} writes ${theirs}, but this command would use (no --store given) ${storeIdentity('duckdb:.concord/store.duckdb', 'concord')}: ` +
      'pass --store with the workers\' store (or env CONCORD_STORE), or run a worker with this store on another queue prefix (CONCORD_QUEUE_PREFIX)\n');
    const otherSchema = await concord(['jobs', 'backfill', '--from', DATE, '--to', DATE, '--store', PG_URL], { ...env, CONCORD_STORE_SCHEMA: 'elsewhere' });
    expect(otherSchema.code).toBe(2);
    expect(otherSchema.stderr).toContain(`this command names ${storeIdentity(PG_URL, 'elsewhere')}`);
    const enqueueOther = await concord(['jobs', 'enqueue', '--date', DATE, '--store', `duckdb:${join(ws.dir, 'other.duckdb')}`], env);
    expect(enqueueOther.code).toBe(2);
    expect(enqueueOther.stderr).toContain(`writes ${theirs}`);
    const agreed = await concord(['jobs', 'backfill', '--from', DATE, '--to', DATE], env);
    expect(agreed.code, agreed.stderr).toBe(0);
    expect(agreed.stdout).toBe('no dirty cells in that range: nothing to backfill\n');
    // A job enqueued for another store (e.g. before the worker changed) is refused by the worker.
    const [job] = await jobs.enqueueReconcile(DATE, P, true, { store: 'duckdb:/elsewhere.duckdb schema concord' });
    const failed = await until('the job to be refused', async () => {
      const [j] = await jobs.current([String(job!.id)]);
      return j?.state === 'failed' ? j : undefined;
    });
    expect(failed.failedReason).toContain(`was enqueued for store duckdb:/elsewhere.duckdb schema concord but this worker writes ${theirs}`);
    expect(failed.attemptsMade).toBe(1);
  }, 120_000);

  it('status lists the jobs, the workers with their store, and the schedule; a bad cron or zone is refused naming the option; unschedule removes it', async () => {
    const badCron = await concord(['jobs', 'schedule', '--cron', 'bad'], env);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr.trim().split('\n')).toHaveLength(1);
    expect(badCron.stderr).toContain('concord jobs: --cron "bad" is not a cron expression');
    const badTz = await concord(['jobs', 'schedule', '--tz', 'Mars/Base'], env);
    expect(badTz.code).toBe(2);
    expect(badTz.stderr).toBe('concord jobs: --tz "Mars/Base" is not a time zone: use an IANA name such as UTC or Europe/Paris (env CONCORD_NIGHTLY_TZ)\n');
    expect(await jobs.queue.getJobSchedulers()).toEqual([]);
    const ok = await concord(['jobs', 'schedule', '--cron', '30 1 * * *', '--tz', 'Europe/Paris'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await jobs.queue.getJobSchedulers()).map((s) => [s.pattern, s.tz])).toEqual([['30 1 * * *', 'Europe/Paris']]);
    const status = await concord(['jobs', 'status', '--date', DATE], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${jobId('reconcile', P, DATE)} completed attempts=1`);
    expect(status.stderr).toContain(`queue prefix ${q} at ${REDIS}: 1 worker(s); `);
    expect(status.stderr).toContain(`writes ${storeIdentity(PG_URL, schema)}; nightly 30 1 * * * (Europe/Paris)`);
    const un = await concord(['jobs', 'unschedule'], env);
    expect(un.code).toBe(0);
    expect(un.stdout).toBe('nightly reconcile unscheduled (was 30 1 * * * Europe/Paris)\n');
    expect(await jobs.queue.getJobSchedulers()).toEqual([]);
    expect((await concord(['jobs', 'unschedule'], env)).stdout).toBe(`no nightly schedule on queue prefix ${q}: nothing to remove\n`);
  }, 120_000);

  it('SIGTERM while a job runs: the worker finishes it, takes no other, and exits 0', async () => {
    const q2 = prefix();
    const worker = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'jobs', 'worker', '--archive', archiveDir, '--report-dir', join(ws.dir, 'reports-sigterm')], {
      cwd: root, env: { ...process.env, ...env, CONCORD_QUEUE_PREFIX: q2 }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(worker);
    let stderr = '';
    worker.stderr!.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    const jobs2 = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q2 });
    try {
      await until('the worker to start', () => stderr.includes('worker started'), 60_000);
      const [a] = await jobs2.enqueueReconcile(DATE, P, true);
      const [b] = await jobs2.enqueueReconcile(EMPTY, P, true);
      await until('the first job to run', () => stderr.includes(`${String(a!.id)}: [0/5]`), 60_000);
      worker.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      const [doneA] = await jobs2.current([String(a!.id)]);
      expect(doneA).toMatchObject({ state: 'completed' });
      const stop = stderr.indexOf('SIGTERM: stopping after the current job');
      const finished = stderr.indexOf(`${String(a!.id)}: [5/5]`);
      expect(stop, stderr).toBeGreaterThan(0);
      expect(stderr.indexOf('jobs: worker stopped'), stderr).toBeGreaterThan(Math.max(stop, finished));
      // Stopped while the first job ran: the second was not taken.
      if (stop < finished) expect((await jobs2.current([String(b!.id)]))[0]?.state).toBe('waiting');
    } finally {
      await jobs2.queue.obliterate({ force: true });
      await jobs2.close();
    }
  }, 120_000);

  it('a rerun of a job whose earlier attempt published resumes after the publish (no second replay, no second version)', async () => {
    const processors = defaultProcessors({ store, registry: seedRegistry(), archiveDir, reportDir: join(ws.dir, 'reports') });
    const steps: string[] = [];
    const progress = async (p: { done: number; total: number; what: string }) => { steps.push(`${p.done}/${p.total}`); };
    const first = await processors.reconcile({ date: DATE, pipeline: P, jobId: 'resume-test' }, progress);
    const generations = (await store.status(P, DATE)).generations;
    expect([steps[0], steps.at(-1)]).toEqual(['0/5', '5/5']);
    steps.length = 0;
    const resumed = await processors.reconcile({ date: DATE, pipeline: P, jobId: 'resume-test', attempt: 1 }, progress);
    expect(resumed).toMatchObject({ generation: first.generation, resumed: 'published by an earlier attempt' });
    expect(steps).toEqual(['5/5']);
    expect((await store.status(P, DATE)).generations).toEqual(generations);
    // An attempt of a job that never published is redone from step 0.
    steps.length = 0;
    const fresh = await processors.reconcile({ date: DATE, pipeline: P, jobId: 'resume-test-2', attempt: 1 }, progress);
    expect(fresh.resumed).toBeUndefined();
    expect(steps[0]).toBe('0/5');
    expect(steps.at(-1)).toBe('5/5');
  }, 120_000);
});

describe('Redis unreachable', () => {
  it('status, enqueue, backfill, schedule and the worker answer with one line within a bounded wait, exit 1, never showing the password', async () => {
    const port = await freePort();
    const url = `redis://concord:s3cret@127.0.0.1:${port}`;
    const env = { REDIS_URL: url, CONCORD_QUEUE_PREFIX: prefix(), CONCORD_STORE: `duckdb:${join(ws.dir, 'unreachable.duckdb')}` };
    const runs = await Promise.all([
      ['jobs', 'status'], ['jobs', 'enqueue', '--date', DATE], ['jobs', 'backfill', '--from', DATE, '--to', DATE], ['jobs', 'schedule'],
      ['jobs', 'worker', '--archive', archiveDir],
    ].map((args) => concord(args, env, 60_000)));
    for (const r of runs) {
      expect(r.signal, r.stderr).toBeNull();
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`concord jobs: Redis at redis://concord:***@127.0.0.1:${port} does not answer; start it or set REDIS_URL\n`);
    }
  }, 120_000);
});

describe('the worker process: Redis outages, its start line, and stopping', () => {
  const redisDir = join(ws.dir, 'redis-outage');
  let redis: ChildProcess | undefined;
  let port = 0;
  const startRedis = async () => {
    spawnSync('mkdir', ['-p', redisDir]);
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir, '--requirepass', 'p4ss'], { stdio: 'ignore' });
    await until('redis to answer', () => spawnSync('redis-cli', ['-p', String(port), '-a', 'p4ss', '--no-auth-warning', 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10_000);
  };
  afterAll(() => { redis?.kill('SIGKILL'); });

  it('logs one line when Redis is lost and one when it is back (no ioredis stacks), then runs jobs again; SIGTERM stops it with exit 0', async () => {
    port = await freePort();
    await startRedis();
    const url = `redis://:p4ss@127.0.0.1:${port}`;
    const q = prefix();
    const worker = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'jobs', 'worker', '--archive', archiveDir, '--store', `duckdb:${join(ws.dir, 'outage.duckdb')}`], {
      cwd: root, env: { ...process.env, REDIS_URL: url, CONCORD_QUEUE_PREFIX: q }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(worker);
    let stderr = '';
    worker.stderr!.on('data', (d) => { stderr += String(d); });
    worker.stdout!.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    await until('the worker to start', () => stderr.includes('worker started'), 60_000);
    expect(stderr).toContain(`jobs: worker started (redis redis://:***@127.0.0.1:${port}, queue prefix ${q}, queue concord-jobs, store duckdb:${join(ws.dir, 'outage.duckdb')} schema concord`);

    // The wrong password is told apart from no answer, and not shown either.
    const wrong = await concord(['jobs', 'status'], { REDIS_URL: `redis://:n0pe@127.0.0.1:${port}`, CONCORD_QUEUE_PREFIX: q }, 60_000);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(`concord jobs: Redis at redis://:***@127.0.0.1:${port} refused the user or password of REDIS_URL: set REDIS_URL with the right ones\n`);

    redis!.kill('SIGKILL');
    await until('the worker to notice', () => /lost/.test(stderr), 20_000);
    await new Promise((r) => setTimeout(r, 4_000)); // several reconnect attempts while it is down
    await startRedis();
    await until('the worker to be back', () => /back after/.test(stderr), 30_000);
    const lines = stderr.split('\n');
    expect(lines.filter((l) => l.includes(' lost'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('back after'))).toHaveLength(1);
    expect(lines.find((l) => l.includes(' lost'))).toMatch(new RegExp(`^jobs: Redis at redis://:\\*\\*\\*@127.0.0.1:${port} lost`));
    expect(stderr).not.toContain('[ioredis]');
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr).not.toContain('p4ss');

    // It works again: a job enqueued now is processed (a day not archived: refused at once, quick).
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: url, prefix: q });
    try {
      const [job] = await jobs.enqueueReconcile(EMPTY, P);
      const done = await until('the job after the outage', async () => {
        const [j] = await jobs.current([String(job!.id)]);
        return j?.state === 'failed' ? j : undefined;
      }, 60_000);
      expect(done.failedReason).toBe(`no archived events for ${EMPTY} in ${archiveDir}: archive the day first, or pass --allow-empty`);
    } finally {
      await jobs.close();
    }
    worker.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('SIGTERM: stopping after the current job');
    expect(stderr).toContain('jobs: worker stopped');
  }, 180_000);

  it('`npm run concord -- jobs worker` stopped by SIGTERM to npm leaves no process behind', async () => {
    const marker = join(ws.dir, `reports-${randomUUID().slice(0, 8)}`);
    const npm = spawn('npm', ['run', 'concord', '--', 'jobs', 'worker', '--archive', archiveDir, '--store', `duckdb:${join(ws.dir, 'npm.duckdb')}`, '--report-dir', marker], {
      cwd: root, env: { ...process.env, REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: prefix() }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(npm);
    let out = '';
    npm.stdout!.on('data', (d) => { out += String(d); });
    npm.stderr!.on('data', (d) => { out += String(d); });
    await until('the worker to start', () => out.includes('worker started'), 60_000);
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(3); // npm, sh, tsx, node
    process.kill(npm.pid!, 'SIGTERM');
    await until('every process of the worker to exit', () => processesWith(marker).length === 0, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${processesWith(marker).join('\n')}\n${out}`);
    });
  }, 120_000);
});

describe('help', () => {
  it('jobs <subcommand> --help lists every option of each subcommand', async () => {
    const subs = ['worker', 'schedule', 'unschedule', 'enqueue', 'retry', 'backfill', 'status'];
    const [misplaced, ...runs] = await Promise.all([
      concord(['jobs', 'status', '--wait'], {}), ...subs.map((sub) => concord(['jobs', sub, '--help'], {})),
    ]);
    // An option of another subcommand is refused, not ignored.
    expect(misplaced!.code).toBe(2);
    expect(misplaced!.stderr).toBe('concord jobs: --wait is an option of jobs enqueue, not of jobs status: leave it out (`concord jobs --help` lists the options)\n');
    for (const [i, sub] of subs.entries()) {
      const r = runs[i]!;
      expect(r.code).toBe(0);
      for (const option of ['--date', '--pipeline', '--force', '--allow-empty', '--wait', '--from', '--cron', '--tz', '--archive', '--concurrency', '--store', '--report-dir']) {
        expect(r.stdout, `${sub}: ${option}`).toContain(option);
      }
      expect(r.stdout).toMatch(new RegExp(`\\n\\s+${sub}\\s+\\S`));
    }
  }, 120_000);
});
