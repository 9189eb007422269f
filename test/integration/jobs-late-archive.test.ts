import { randomUUID } from 'node:crypto';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs, type JobStatus } from '../../jobs/job-queue.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { NoArchivedDayError, NoRealtimeRowsError, reconcileDay } from '../../reconcile/reconcile-day.ts';
import { openStore } from '../../store/open-store.ts';
import { archiveClicks, jobsTestFile, REDIS, startInProcessWorker, streamClicks } from '../fixtures/jobs-cli.ts';
import { PG_URL } from '../fixtures/postgres.ts';

// Issue 14 follow-ups through the jobs, on real Redis, PostgreSQL (the store several processes share)
// and DuckDB (replay of the Parquet archive): late data that reaches only the archive after a day was
// reconciled, an explicitly allowed empty day, and the worker's JSON log.
const { ws, schemas, archiveDir, prefix, until, spawnCli, concord } = jobsTestFile({ workspacePrefix: 'concord-jobs-late-', queuePrefix: 'cjl', waitMs: 60_000 });
const DATE = '2026-11-23';
const P = pageViewsPerMinute.name;

const click = (id: string, ts: number, url: string) => JSON.stringify({ event_id: id, ts, url, visitor_id: `v${id}` });
/** (window start, url) -> views of the day's live cells. */
const viewsOf = (rows: { key: Record<string, unknown>; values: Record<string, unknown>; windowStart: number }[]) =>
  new Map(rows.map((r) => [`${r.windowStart} ${String(r.key.url)}`, Number(r.values.views)]));

beforeAll(async () => {
  const day = generateDay({ seed: 11, date: DATE, clicks: 300, transactions: 0, lateFraction: 0 });
  await archiveClicks(archiveDir, day.clicks, 'file:clicks.jsonl');
}, 60_000);

describe('jobs and archive files written after a day was reconciled (worker on PostgreSQL)', () => {
  const schema = schemas.next('jl');
  const q = prefix();
  const env = { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q, CONCORD_STORE: PG_URL, CONCORD_STORE_SCHEMA: schema, CONCORD_JOB_ATTEMPTS: '2', CONCORD_JOB_BACKOFF_MS: '100' };
  let jobs: ConcordJobs;
  let store: Awaited<ReturnType<typeof openStore>>;
  let stop: () => Promise<void>;

  const finished = (id: string) => until(`job ${id} to finish`, async () => {
    const [j] = await jobs.current([id]);
    return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
  });

  beforeAll(async () => {
    store = await openStore(PG_URL, { schema, registry: seedRegistry() });
    const day = generateDay({ seed: 11, date: DATE, clicks: 300, transactions: 0, lateFraction: 0 });
    await streamClicks(store, [['file:clicks.jsonl', day.clicks]]);
    // The worker registers its archive with its store: `jobs backfill` finds it there (no --archive).
    ({ jobs, stop } = startInProcessWorker(store, { schema, queuePrefix: q, archiveDir, archive: archiveDir, pipelines: [P], attempts: 2, now: () => Date.parse('2026-11-24T02:00:00.000Z') }));
    await until('the worker to register', async () => (await jobs.workers()).length === 1);
  }, 60_000);
  afterAll(async () => stop?.());

  it('jobs backfill enqueues a backfill for a reconciled day whose archive got a file since; it runs and the cells include the new events', async () => {
    const [rec] = await jobs.enqueueReconcile(DATE, P);
    expect(await finished(String(rec!.id))).toMatchObject({ state: 'completed', result: { generation: 1 } });
    const before = viewsOf(await store.current(P, DATE));
    const [someCell, someViews] = [...before.entries()][0]!;
    const [start, url] = [Number(someCell.split(' ')[0]), someCell.slice(someCell.indexOf(' ') + 1)];

    const nothing = await concord(['jobs', 'backfill', '--from', DATE, '--to', DATE], env);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toBe('no dirty cells and no archive files written after a reconcile in that range: nothing to backfill\n');

    // Late data that reaches only the archive: one more click of an existing cell, two of a url never seen
    // (in the same minute: an archive write refuses events far ahead of its own progress).
    await new Promise((r) => setTimeout(r, 20));
    await archiveClicks(archiveDir, [click('late-1', start + 1_000, url), click('late-2', start + 2_000, '/late-only'), click('late-3', start + 3_000, '/late-only')], 'file:late-archive.jsonl');

    const run = await concord(['jobs', 'backfill', '--from', DATE, '--to', DATE, '--pipeline', P], env);
    expect(run.code, run.stderr).toBe(0);
    const id = new RegExp(`^(${jobId('backfill', P, DATE, 'd')}\\d+) (waiting|active|completed)`, 'm').exec(run.stdout)?.[1];
    expect(id, run.stdout).toBeDefined();
    const done = await finished(id!);
    expect(done.failedReason).toBeUndefined();
    expect(done).toMatchObject({ state: 'completed', result: { pipeline: P, date: DATE, dirty: 2, recomputed: 2, changed: 2, fromArchive: 2 } });
    const after = viewsOf(await store.current(P, DATE));
    expect(after.get(someCell)).toBe(someViews + 1);
    expect(after.get(`${start} /late-only`)).toBe(2);
    expect(after.size).toBe(before.size + 1);
    for (const [cell, views] of before) if (cell !== someCell) expect(after.get(cell), cell).toBe(views);

    // Nothing new since: asking again enqueues nothing.
    const again = await concord(['jobs', 'backfill', '--from', DATE, '--to', DATE], env);
    expect(again.stdout).toBe('no dirty cells and no archive files written after a reconcile in that range: nothing to backfill\n');
  }, 180_000);

  it('the nightly run of a day reconciled before backfills the archive files written since', async () => {
    await new Promise((r) => setTimeout(r, 20));
    const late = Date.parse(`${DATE}T15:31:00.000Z`);
    await archiveClicks(archiveDir, [click('night-1', late + 1, '/nightly-late')], 'file:nightly-late.jsonl');
    // A run scheduled at 02:00 the next morning takes DATE: the store holds its reconciled version (above),
    // so no reconcile is enqueued again; the archive's news goes to a backfill.
    const nightly = await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC' }, { jobId: `nightly-${randomUUID()}`, timestamp: Date.parse('2026-11-24T02:00:00.000Z') });
    const ran = await finished(String(nightly.id));
    expect(ran.state, ran.failedReason).toBe('completed');
    const enqueued = (ran.result as { enqueued: string[] }).enqueued;
    expect(ran.result).toMatchObject({ date: DATE, dates: [], reconciled: { [P]: [DATE] } });
    expect(enqueued).not.toContain(jobId('reconcile', P, DATE));
    const backfill = enqueued.find((e) => e.startsWith(jobId('backfill', P, DATE, 'd')));
    expect(backfill, JSON.stringify(ran.result)).toBeDefined();
    expect(await finished(backfill!)).toMatchObject({ state: 'completed', result: { fromArchive: 1, changed: 1 } });
    expect(viewsOf(await store.current(P, DATE)).get(`${late} /nightly-late`)).toBe(1);
    expect((await store.status(P, DATE)).generations).toEqual([1]); // backfilled into the live version, not reconciled again
  }, 120_000);

  it('enqueue --allow-empty of a day with neither stream rows nor archived events publishes version 1 with 0 cells; without it the job is refused', async () => {
    const empty = '2026-11-19';
    const allowed = await concord(['jobs', 'enqueue', '--date', empty, '--pipeline', P, '--allow-empty', '--wait'], env);
    expect(allowed.signal, allowed.stderr).toBeNull();
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stdout).toContain(`${jobId('reconcile', P, empty)} completed {"pipeline":"${P}","date":"${empty}","generation":1,"corrections":0,"different":0,"unexplained":0}`);
    expect((await store.status(P, empty)).generations).toEqual([1]);
    expect(await store.current(P, empty)).toEqual([]);
    expect((await store.reconciliations(P, empty)).map((r) => [r.status, r.generation])).toEqual([['published', 1]]);

    const refusedDay = '2026-11-18';
    const refused = await concord(['jobs', 'enqueue', '--date', refusedDay, '--pipeline', P, '--wait'], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`${jobId('reconcile', P, refusedDay)} failed: no archived events for ${refusedDay} in ${archiveDir}: archive the day first, then \`concord jobs retry --date ${refusedDay}\``);
    expect((await store.status(P, refusedDay)).generations).toEqual([]);
  }, 120_000);
});

describe('reconcileDay allowEmpty', () => {
  it('still refuses a day whose archive has events but the stream wrote nothing (the stream missed it)', async () => {
    const store = await openStore(`duckdb:${join(ws.dir, 'allow-empty.duckdb')}`, { registry: seedRegistry() });
    try {
      await expect(reconcileDay({ def: pageViewsPerMinute, date: DATE, store, archiveDir, jobId: 'ae1', allowEmpty: true }))
        .rejects.toThrow(new NoRealtimeRowsError(P, DATE).message);
      expect((await store.status(P, DATE)).generations).toEqual([]);
      const rec = await reconcileDay({ def: pageViewsPerMinute, date: '2026-11-17', store, archiveDir, jobId: 'ae2', allowEmpty: true });
      expect(rec).toMatchObject({ status: 'published', generation: 1, corrections: 0 });
      // Neither archived nor streamed, without allowEmpty: the archive is named first (as the jobs always did).
      await expect(reconcileDay({ def: pageViewsPerMinute, date: '2026-11-16', store, archiveDir, jobId: 'ae3' })).rejects.toThrow(NoArchivedDayError);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('jobs worker --log-format json', () => {
  it('writes only JSON lines on stderr: the start line, job lines, the stop line', async () => {
    const q = prefix();
    // --archive as typed relative to the worker's directory (the CLI runs in the repository root).
    const typed = relative(fileURLToPath(new URL('../..', import.meta.url)), archiveDir);
    const worker = spawnCli(['jobs', 'worker', '--log-format', 'json', '--archive', typed, '--store', `duckdb:${join(ws.dir, 'json-log.duckdb')}`], { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q });
    let stderr = '', stdout = '';
    worker.stderr!.on('data', (d) => { stderr += String(d); });
    worker.stdout!.on('data', (d) => { stdout += String(d); });
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix: q });
    let failed: JobStatus;
    try {
      await until('the worker to start', () => stderr.includes('worker started'));
      // The start-up line names the archive the worker registered (absolute), not the relative path typed.
      expect((await until('the worker to register', async () => (await jobs.workers())[0]))).toMatchObject({ archive: archiveDir });
      expect(stderr).toContain(`, archive ${archiveDir}); `);
      const [job] = await jobs.enqueueReconcile('2026-11-15', P); // not archived: refused at once
      failed = await until('the job to fail', async () => {
        const [j] = await jobs.current([String(job!.id)]);
        return j?.state === 'failed' ? j : undefined;
      });
      await until('its log line', () => stderr.includes(`${String(job!.id)} failed`));
      worker.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
    } finally {
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
    }
    expect(stdout).toBe('');
    const lines = stderr.split('\n').filter((l) => l !== '');
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as { level: number; time: string; service: string; msg: string };
      } catch {
        throw new Error(`not a JSON line on stderr: ${l}\n${stderr}`);
      }
    });
    for (const p of parsed) expect(p).toMatchObject({ service: 'concord-jobs', level: 30, time: expect.any(String), msg: expect.any(String) });
    const msgs = parsed.map((p) => p.msg);
    expect(msgs[0]).toMatch(new RegExp(`^jobs: worker started \\(redis ${REDIS.replace(/[/.]/g, '\\$&')}, queue prefix ${q}, queue concord-jobs, store duckdb:`));
    expect(msgs).toContainEqual(expect.stringContaining(`${jobId('reconcile', P, '2026-11-15')} failed (attempt 1): ${failed.failedReason!}`));
    expect(msgs).toContain('jobs: SIGTERM: stopping after the current job (a second signal stops at once; the job is then retried by a worker)');
    expect(msgs.at(-1)).toBe('jobs: worker stopped');
  }, 120_000);
});
