import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../cli/commands/jobs-enqueue.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobProcessors } from '../../jobs/job-worker.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { concord } from '../fixtures/cli.ts';
import { REDIS, until } from '../fixtures/jobs-cli.ts';

// `jobs retry --wait` printed the progress the failed attempt had reached ("[3/5]") as if the retried
// job were there again, before any new attempt ran: BullMQ keeps a job's progress across a retry.
// Real Redis, a queue prefix of its own.
const DATE = '2026-11-23';
const P = pageViewsPerMinute.name;
const q = `jobs2rw${randomUUID().slice(0, 8)}`;
const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix: q, attempts: 1, backoffMs: 50 });
afterAll(async () => {
  await jobs.queue.obliterate({ force: true });
  await jobs.close();
});

describe('jobs retry', () => {
  it('shows only the progress of the attempt that runs now, not the one the failed attempt reached', async () => {
    let runs = 0;
    let id = '';
    const said: string[] = [];
    const progressAtStart: unknown[] = [];
    const processors: JobProcessors = {
      reconcile: async (_req, progress) => {
        runs++;
        if (runs === 1) {
          await progress({ done: 3, total: 5, what: 'replaying the archived day' });
          throw new ConcordError('the archive is not there yet', { domain: 'external' });
        }
        // The new attempt starts without the earlier one's progress, and the wait sees it run so.
        progressAtStart.push((await jobs.current([id]))[0]?.progress);
        await until('the wait to see the new attempt run', () => said.includes(`${id} active\n`), 30_000, 20);
        return { ok: true };
      },
      backfill: async () => ({}),
    };
    const first = startWorker(processors, { redisUrl: REDIS, prefix: q, log: () => undefined });
    const [job] = await jobs.enqueueReconcile(DATE, P);
    id = String(job!.id);
    await until('the first attempt to fail', async () => (await jobs.current([id]))[0]?.state === 'failed');
    await first.close();

    expect(await jobs.retryFailed(DATE, P)).toEqual([id]);
    let waitedBeforeRun = 0;
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => { said.push(String(chunk)); return true; });
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { said.push(String(chunk)); return true; });
    try {
      // No worker yet: the retried job waits, and the wait says so without the earlier attempt's step.
      expect(await waitFor(jobs, [id], Date.now() + 600, 100)).toBe(1);
      waitedBeforeRun = said.length;
      const second = startWorker(processors, { redisUrl: REDIS, prefix: q, log: () => undefined });
      try {
        expect(await waitFor(jobs, [id], Date.now() + 30_000, 100)).toBe(0);
      } finally {
        await second.close();
      }
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
    expect(said).toContain(`${id} waiting\n`);
    expect(said).toContain(`${id} active\n`);
    expect(said.slice(0, waitedBeforeRun).filter((line) => line.includes('"done":3'))).toEqual([]);
    expect(progressAtStart).toEqual([0]);
    expect(said).toContain(`${id} completed {"ok":true}\n`);
  }, 60_000);

  // A day that failed (no archived event) and was then reconciled by `enqueue --allow-empty --force`: the
  // retry ran the failed job as it was enqueued and failed again with the same "no archived events" advice.
  it('leaves a failed reconcile a --force rerun has since completed, and says which job reconciled the day', async () => {
    const day = '2026-11-20';
    const processors: JobProcessors = {
      reconcile: async (req) => {
        if (!req.allowEmpty) throw new ConcordError(`no archived events for ${day}`, { domain: 'user' });
        return { ok: true };
      },
      backfill: async () => ({}),
    };
    const worker = startWorker(processors, { redisUrl: REDIS, prefix: q, log: () => undefined });
    try {
      const [failing] = await jobs.enqueueReconcile(day, P);
      const failedId = String(failing!.id);
      await until('the job to fail', async () => (await jobs.current([failedId]))[0]?.state === 'failed');
      const [rerun] = await jobs.enqueueReconcile(day, P, true, { allowEmpty: true });
      const rerunId = String(rerun!.id);
      await until('the rerun to complete', async () => (await jobs.current([rerunId]))[0]?.state === 'completed');

      const r = await concord(['jobs', 'retry', '--date', day, '--pipeline', P], { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${failedId} not retried: ${day} was since reconciled by ${rerunId} \\(completed \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); ` +
        `\`concord jobs enqueue --date ${day} --pipeline ${P} --force\` reconciles it again\n$`));
      const [left] = await jobs.current([failedId]);
      expect(left).toMatchObject({ state: 'failed', attemptsMade: 1 });
    } finally {
      await worker.close();
    }
  }, 60_000);
});
