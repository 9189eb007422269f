import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedPipelineNames } from '../../examples/seed.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobProcessors } from '../../jobs/job-worker.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { REDIS, until } from '../fixtures/jobs-cli.ts';

// A job whose every attempt failed on something retrying may fix (a store that does not answer) was
// failed for good with the reason alone: `jobs status` said `failed: PostgreSQL does not answer: ...` and
// nothing about how the job runs again once the store is back. Real Redis, a queue prefix of its own.
const DATE = '2026-11-23';
const P = pageViewsPerMinute.name;
const q = `cjl${randomUUID().slice(0, 8)}`;
const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q, attempts: 2, backoffMs: 50 });
afterAll(async () => {
  await jobs.queue.obliterate({ force: true });
  await jobs.close();
});

describe('a job failing its last attempt', () => {
  it('says how it runs again; an attempt before the last keeps the reason alone, and the retry it names runs the job', async () => {
    let storeUp = false;
    const processors: JobProcessors = {
      reconcile: async () => {
        if (!storeUp) throw new ConcordError('PostgreSQL does not answer: connect ECONNREFUSED 127.0.0.1:5999', { domain: 'external', retriable: true });
        return { ok: true };
      },
      backfill: async () => ({}),
    };
    const lines: string[] = [];
    const worker = startWorker(processors, { redisUrl: REDIS, prefix: q, log: (line) => lines.push(line) });
    try {
      const [job] = await jobs.enqueueReconcile(DATE, P);
      const id = String(job!.id);
      const failed = await until('the job to fail for good', async () => {
        const [j] = await jobs.current([id]);
        return j?.state === 'failed' ? j : undefined;
      }, 30_000);
      expect(failed.attemptsMade).toBe(2);
      expect(failed.failedReason).toBe(
        `PostgreSQL does not answer: connect ECONNREFUSED 127.0.0.1:5999 (the reconcile failed 2 attempts: once that is fixed, \`concord jobs retry --date ${DATE} --pipeline ${P}\` runs it again)`);
      // The first attempt's failure is retried by itself: no advice to retry.
      expect(lines).toContain(`${id} failed (attempt 1): PostgreSQL does not answer: connect ECONNREFUSED 127.0.0.1:5999`);
      storeUp = true;
      expect(await jobs.retryFailed(DATE, P)).toEqual([id]);
      await until('the retried job to complete', async () => (await jobs.current([id]))[0]?.state === 'completed', 30_000);
    } finally {
      await worker.close();
    }
  }, 60_000);

  // The night's prune has a date but no pipeline: `jobs retry --date D` passed it by ("no failed job of D").
  it('the night\'s prune too: its last failure names `jobs retry --date D`, and that retries it', async () => {
    let storeUp = false;
    const processors: JobProcessors = {
      reconcile: async () => ({}),
      backfill: async () => ({}),
      prune: async () => {
        if (!storeUp) throw new ConcordError('PostgreSQL does not answer: connect ECONNREFUSED 127.0.0.1:5999', { domain: 'external', retriable: true });
        return { days: 0 };
      },
    };
    const worker = startWorker(processors, { redisUrl: REDIS, prefix: q });
    try {
      const prune = await jobs.enqueuePrune(DATE, []);
      const id = String(prune.id);
      const failed = await until('the prune to fail for good', async () => {
        const [j] = await jobs.current([id]);
        return j?.state === 'failed' ? j : undefined;
      }, 30_000);
      expect(failed.failedReason).toBe(
        `PostgreSQL does not answer: connect ECONNREFUSED 127.0.0.1:5999 (the prune failed 2 attempts: once that is fixed, \`concord jobs retry --date ${DATE}\` runs it again)`);
      expect(await jobs.retryFailed(DATE, P)).toEqual([]); // one pipeline's retry leaves the prune of every pipeline
      storeUp = true;
      expect(await jobs.retryFailed(DATE)).toEqual([id]);
      await until('the retried prune to complete', async () => (await jobs.current([id]))[0]?.state === 'completed', 30_000);
    } finally {
      await worker.close();
    }
  }, 60_000);
});
