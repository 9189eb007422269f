import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { pageViewsPerMinute, seedPipelineNames } from '../../examples/seed.ts';
import { archiveClicks, jobsTestFile, REDIS } from '../fixtures/jobs-cli.ts';
import { processesWith } from '../fixtures/processes.ts';

// The jobs commands as processes of their own, through the real CLI: what they answer when Redis does
// not (a port nothing listens on, and redis-servers of this file's own that it stops and restarts), the
// worker's start line and how it stops (also under npm), and each subcommand's --help.
const { ws, archiveDir, prefix, until, spawnChild, spawnCli, concord } = jobsTestFile({ workspacePrefix: 'concord-jobs-ops-', queuePrefix: 'cjo', waitMs: 30_000 });
const DATE = '2026-11-23';
const EMPTY = '2026-11-20';
const P = pageViewsPerMinute.name;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

// The workers' --archive, with a day in it: a job of a day not archived is refused at once.
beforeAll(async () => {
  const day = generateDay({ seed: 7, date: DATE, clicks: 600, transactions: 0, lateFraction: 0 });
  await archiveClicks(archiveDir, day.clicks, 'file:clicks.jsonl');
}, 60_000);

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
    const worker = spawnCli(['jobs', 'worker', '--archive', archiveDir, '--store', `duckdb:${join(ws.dir, 'outage.duckdb')}`], { REDIS_URL: url, CONCORD_QUEUE_PREFIX: q });
    let stderr = '';
    worker.stderr!.on('data', (d) => { stderr += String(d); });
    worker.stdout!.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    await until('the worker to start', () => stderr.includes('worker started'), 60_000);
    expect(stderr).not.toContain('does not exist');
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
      expect(done.failedReason).toBe(`no archived events for ${EMPTY} in ${archiveDir}: archive the day first, then \`concord jobs retry --date ${EMPTY}\`; or, for a day without traffic, \`concord jobs enqueue --date ${EMPTY} --pipeline ${P} --allow-empty --force\``);
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
    const notYet = join(ws.dir, 'archive-not-yet');
    const npm = spawnChild('npm', ['run', 'concord', '--', 'jobs', 'worker', '--archive', notYet, '--store', `duckdb:${join(ws.dir, 'npm.duckdb')}`, '--report-dir', marker], { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: prefix() });
    let out = '';
    npm.stdout!.on('data', (d) => { out += String(d); });
    npm.stderr!.on('data', (d) => { out += String(d); });
    await until('the worker to start', () => out.includes('worker started'), 60_000);
    // An archive that is not there (yet) is said at start, not only in every job that fails on it.
    await until('the missing archive to be said', () => out.includes(`jobs: warning: the archive ${notYet} does not exist (yet): every job fails until`), 10_000);
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
    expect(misplaced!.stderr).toBe('concord jobs: --wait is an option of jobs enqueue, jobs retry, not of jobs status: leave it out (`concord jobs --help` lists the options)\n');
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
