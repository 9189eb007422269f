import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';
import { pageViewsPerMinute, seedPipelineNames, seedRegistry } from '../../examples/seed.ts';
import { openStore } from '../../store/open-store.ts';
import { archiveClicks, jobsTestFile, REDIS, startInProcessWorker, streamClicks } from '../fixtures/jobs-cli.ts';
import { PG_URL } from '../fixtures/postgres.ts';

// How an operator runs jobs, through the real CLI, with a worker of this process writing a PostgreSQL
// store: real Redis, unique queue prefixes and schemas (test/fixtures/jobs-cli.ts). The worker as a
// process of its own, and Redis outages, are in jobs-worker-process.test.ts.
const { ws, schemas, archiveDir, prefix, until, spawnCli, concord } = jobsTestFile({ workspacePrefix: 'concord-jobs-ops-', queuePrefix: 'cjo', waitMs: 30_000 });
const DATE = '2026-11-23';
const EMPTY = '2026-11-20';
const P = pageViewsPerMinute.name;

beforeAll(async () => {
  const day = generateDay({ seed: 7, date: DATE, clicks: 600, transactions: 0, lateFraction: 0 });
  await archiveClicks(archiveDir, day.clicks, 'file:clicks.jsonl');
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
    await streamClicks(store, [['file:clicks-20.jsonl', unarchived.clicks], ['file:clicks.jsonl', day.clicks]]);
    ({ jobs, stop } = startInProcessWorker(store, { schema, queuePrefix: q, archiveDir, pipelines: seedPipelineNames, attempts: 3 }));
    await until('the worker to register its store', async () => (await jobs.workers()).length === 1);
  }, 60_000);
  afterAll(async () => stop?.());

  it('a date with no archived events fails at once with the reason; enqueueing it again says why nothing happens and how to retry', async () => {
    const id = jobId('reconcile', P, EMPTY);
    const first = await concord(['jobs', 'enqueue', '--date', EMPTY, '--pipeline', P, '--wait'], env);
    expect(first.signal, first.stdout + first.stderr).toBeNull(); // --wait exits by itself
    expect(first.code, first.stderr).toBe(1);
    expect(first.stdout).toContain(`${id} failed: no archived events for ${EMPTY} in ${archiveDir}: archive the day first, then \`concord jobs retry --date ${EMPTY}\`; or, for a day without traffic, \`concord jobs enqueue --date ${EMPTY} --pipeline ${P} --allow-empty --force\``);
    const failed = (await jobs.current([id]))[0]!;
    expect(failed).toMatchObject({ state: 'failed', attemptsMade: 1 }); // unrecoverable: no retries
    expect((await store.status(P, EMPTY)).generations).toEqual([]); // nothing published

    const again = await concord(['jobs', 'enqueue', '--date', EMPTY, '--pipeline', P], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`${id} failed earlier (attempts=1): no archived events for ${EMPTY}`);
    expect(again.stderr).toContain(`${id} was not enqueued again`);
    expect(again.stderr).toContain(`concord jobs retry --date ${EMPTY} --pipeline ${P}`);
    expect(again.stderr).toContain(`concord jobs enqueue --date ${EMPTY} --pipeline ${P} --force`);
    // The hint the failure gave (--allow-empty) needs a new job: a retry runs the job as it was enqueued.
    const againAllowed = await concord(['jobs', 'enqueue', '--date', EMPTY, '--pipeline', P, '--allow-empty'], env);
    expect(againAllowed.code).toBe(1);
    expect(againAllowed.stderr).toContain(`or run a new job with this command's options by adding --force: \`concord jobs enqueue --date ${EMPTY} --pipeline ${P} --allow-empty --force\``);

    const finishedBefore = (await jobs.queue.getJob(id))!.finishedOn!;
    const retry = await concord(['jobs', 'retry', '--date', EMPTY, '--pipeline', P], env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toBe(`${id} retried: waiting\n`);
    const rerun = await until('the retried job to fail again', async () => {
      const j = await jobs.queue.getJob(id);
      return j && (await j.getState()) === 'failed' && j.finishedOn! > finishedBefore ? (await jobs.queue.getJob(id))! : undefined;
    });
    expect(rerun.failedReason).toContain('no archived events');
    // Waited on, as `enqueue --wait` is (`retry --wait` was refused as an option of enqueue only).
    const waited = await concord(['jobs', 'retry', '--date', EMPTY, '--pipeline', P, '--wait', '--timeout', '60s'], env);
    expect(waited.code, waited.stderr).toBe(1);
    expect(waited.stdout).toContain(`${id} retried: waiting\n${id} failed: no archived events for ${EMPTY}`);
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

  it('enqueue on a queue prefix no worker serves says so (with --wait it would wait for one)', async () => {
    const lonely = await concord(['jobs', 'enqueue', '--date', DATE, '--pipeline', P], { ...env, CONCORD_QUEUE_PREFIX: prefix(), CONCORD_STORE: undefined, CONCORD_STORE_SCHEMA: undefined });
    expect(lonely.code, lonely.stderr).toBe(0);
    expect(lonely.stderr).toMatch(/^concord jobs: note: no worker runs on queue prefix \S+; the jobs wait for one \(`concord jobs worker`\)$/m);
    // --wait had no bound: with no worker it waited for ever. --timeout ends the wait (exit 1), not the job.
    const started = Date.now();
    const bounded = await concord(['jobs', 'enqueue', '--date', DATE, '--pipeline', P, '--wait', '--timeout', '1s'], { ...env, CONCORD_QUEUE_PREFIX: prefix(), CONCORD_STORE: undefined, CONCORD_STORE_SCHEMA: undefined });
    expect(bounded.signal, bounded.stderr).toBeNull();
    expect(bounded.code, bounded.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(bounded.stdout).toContain(`${jobId('reconcile', P, DATE)} waiting after --timeout`);
    expect(bounded.stderr).toContain('--timeout passed with 1 job(s) not finished');
    expect(bounded.stderr).toContain(`${jobId('reconcile', P, DATE)} waiting\n`); // its state, as it waits
    const unbounded = await concord(['jobs', 'enqueue', '--date', DATE, '--pipeline', P, '--timeout', '1s'], env);
    expect(unbounded.code).toBe(2);
    expect(unbounded.stderr).toContain('--timeout bounds --wait');
    const notADate = await concord(['jobs', 'status', '--date', 'yesterday'], env);
    expect(notADate.code).toBe(2);
    expect(notADate.stderr).toBe('concord jobs: "yesterday" is not a date: use YYYY-MM-DD (UTC)\n');
  }, 60_000);

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
    // The same schedule from a second host: still one; another one replaces it, and says what it replaced.
    const again = await concord(['jobs', 'schedule', '--cron', '30 1 * * *', '--tz', 'Europe/Paris'], env);
    expect(again.stdout).toContain('; it was scheduled so already (one schedule per queue prefix: still one run a night)\n');
    const other = await concord(['jobs', 'schedule', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin'], env);
    expect(other.stdout).toMatch(/^nightly reconcile scheduled: 0 3 \* \* \* \(Europe\/Berlin\), next run \S+ \(\S+ 03:00 Europe\/Berlin, GMT\+[12]\); replaced 30 1 \* \* \* \(Europe\/Paris\)\n$/);
    expect((await jobs.queue.getJobSchedulers()).map((s) => [s.pattern, s.tz])).toEqual([['0 3 * * *', 'Europe/Berlin']]);
    await concord(['jobs', 'schedule', '--cron', '30 1 * * *', '--tz', 'Europe/Paris'], env);
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
    const worker = spawnCli(['jobs', 'worker', '--archive', archiveDir, '--report-dir', join(ws.dir, 'reports-sigterm')], { ...env, CONCORD_QUEUE_PREFIX: q2 }, ['ignore', 'ignore', 'pipe']);
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
