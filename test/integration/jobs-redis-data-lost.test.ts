import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedPipelineNames } from '../../examples/seed.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobProcessors } from '../../jobs/job-worker.ts';
import { until as untilReady } from '../fixtures/jobs-cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A Redis of this file's own, without persistence, restarted while a job runs: the queue comes back
// empty. The job's steps in the store (publish, then its report) must not be cut between two of them
// because Redis no longer knows the job: a version published without its report was the result.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const until = <T>(what: string, fn: () => Promise<T | undefined | false>, deadlineMs = 30_000) => untilReady(what, fn, deadlineMs, 50);

describe('Redis restarted without its data in the middle of a job', () => {
  let redis: ChildProcess | undefined;
  const port = 16_900 + Math.floor(Math.random() * 500);
  const dir = join(ws.dir, 'redis');
  const startRedis = async () => {
    mkdirSync(dir, { recursive: true });
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'no', '--save', '', '--dir', dir], { stdio: 'ignore' });
    await until('redis to answer', async () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10_000);
  };
  afterAll(() => { spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']); redis?.kill('SIGKILL'); });

  it('the job runs its remaining steps and the worker says Redis lost it', async () => {
    await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const steps: string[] = [];
    const lines: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const processors: JobProcessors = {
      reconcile: async (_req, progress) => {
        await progress({ done: 2, total: 5, what: 'publishing' });
        steps.push('published');
        await gate;
        await progress({ done: 3, total: 5, what: 'storing the report' });
        steps.push('report stored');
        await progress({ done: 5, total: 5, what: 'done' });
        return { done: true };
      },
      backfill: async () => ({}),
    };
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: url, prefix: 'lost' });
    const worker = startWorker(processors, { redisUrl: url, prefix: 'lost', log: (l) => lines.push(l) });
    const bounded = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 5_000))]);
    try {
      const [job] = await jobs.enqueueReconcile('2026-11-23', pageViewsPerMinute.name);
      await until('the job to publish', async () => steps.includes('published'), 20_000);
      spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
      await until('redis to stop', async () => redis!.exitCode !== null || redis!.signalCode !== null, 10_000);
      await startRedis();
      await until('the worker to be back', async () => lines.some((l) => l.includes('back after')), 30_000);
      release();
      await until('the report to be stored', async () => steps.includes('report stored'), 20_000);
      await until('the worker to say the job is gone', async () => lines.some((l) => l.includes(`${String(job!.id)}: Redis no longer holds this job`)), 20_000);
      expect(steps).toEqual(['published', 'report stored']);
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nsteps: ${steps.join(', ')}\n${lines.join('\n')}`);
    } finally {
      release();
      await bounded(worker.close(true));
      await bounded(jobs.close());
    }
  }, 90_000);
});
