import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobRequest } from '../../jobs/job-worker.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { jobsTestFile, REDIS, until } from '../fixtures/jobs-cli.ts';

// The workers (and so the scheduler's runs) were down for days: BullMQ runs the first missed night's
// job once, late, and schedules the next night from the restart. The nightly run catches the nights
// in between up (jobs/nightly-catch-up.ts). Real Redis, a queue prefix of its own, the run's clock injected.
const P = 'page_views_per_minute';
const q = `sched${randomUUID().slice(0, 8)}`;
const cli = jobsTestFile({ workspacePrefix: 'concord-sched-', queuePrefix: 'sched', waitMs: 30_000 });
const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix: q });
afterAll(async () => {
  await jobs.queue.obliterate({ force: true });
  await jobs.forgetNightly();
  await jobs.close();
});

describe('nights missed while no worker ran', () => {
  it('are each reconciled once, in order; a day that fails for good blocks none of the others', async () => {
    const ran: string[] = [];
    const reconcile = async (req: JobRequest) => {
      ran.push(req.date);
      // The archive of the 22nd is missing: the job fails at once, with the reason, not retried.
      if (req.date === '2026-11-22') throw new ConcordError(`no archived events for ${req.date} in archive/`, { domain: 'user' });
      return { date: req.date };
    };
    let clock = Date.parse('2026-11-21T02:00:00.000Z');
    const log: string[] = [];
    const worker = startWorker({ reconcile, backfill: async () => ({}) }, { redisUrl: REDIS, prefix: q, pipelines: [P], attempts: 3, backoffMs: 10, now: () => clock, log: (l) => log.push(l) });
    const night = async (id: string, at: string) => {
      const job = await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC', cron: '0 2 * * *' }, { jobId: id, timestamp: Date.parse(at) });
      return until(`${id} to finish`, async () => {
        const j = await jobs.queue.getJob(String(job.id));
        return j?.finishedOn !== undefined ? j : undefined;
      });
    };
    const settled = (date: string) => until(`${date} to settle`, async () => {
      const state = await jobs.queue.getJobState(jobId('reconcile', P, date));
      return state === 'completed' || state === 'failed' ? state : undefined;
    });
    try {
      // On time: the 21st's run takes the 20th.
      expect((await night('n21', '2026-11-21T02:00:00.000Z')).returnvalue).toMatchObject({ date: '2026-11-20' });
      await settled('2026-11-20');
      // Down until 10:00 on the 24th: the job meant for 02:00 on the 22nd runs then, once.
      clock = Date.parse('2026-11-24T10:00:00.000Z');
      expect((await night('n22', '2026-11-22T02:00:00.000Z')).returnvalue).toMatchObject({ date: '2026-11-23', dates: ['2026-11-21', '2026-11-22', '2026-11-23'] });
      expect(await settled('2026-11-21')).toBe('completed');
      expect(await settled('2026-11-22')).toBe('failed');
      expect(await settled('2026-11-23')).toBe('completed');
      expect((await jobs.queue.getJob(jobId('reconcile', P, '2026-11-22')))?.failedReason).toBe('no archived events for 2026-11-22 in archive/');
      // BullMQ schedules the next run from the restart: 02:00 on the 25th. It takes the 24th, nothing twice.
      clock = Date.parse('2026-11-25T02:00:00.000Z');
      expect((await night('n25', '2026-11-25T02:00:00.000Z')).returnvalue).toMatchObject({ date: '2026-11-24', enqueued: [jobId('reconcile', P, '2026-11-24')] });
      await settled('2026-11-24');
      expect(ran).toEqual(['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24']);
      expect(Object.fromEntries(await jobs.nightlyThrough())).toEqual({ [P]: '2026-11-24' });
      // The operator sees where the nightly runs are, and which day failed, with its reason.
      const status = await cli.concord(['jobs', 'status'], { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).toContain('nightly not scheduled, enqueued through 2026-11-24');
      expect(status.stderr).toContain('jobs: 7 completed, 1 failed\n'); // three nights, four days reconciled, one failed
      expect(status.stdout).toContain(`${jobId('reconcile', P, '2026-11-22')} failed attempts=1 — failed: no archived events for 2026-11-22 in archive/`);
    } finally {
      await worker.close();
    }
  }, 60_000);
});
