import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobRequest } from '../../jobs/job-worker.ts';
import { REDIS, until } from '../fixtures/jobs-cli.ts';

// Late data of an earlier night: events of the 20th arrive on the 21st and 22nd (a file source that
// grows, an offline client), after the 20th was reconciled. The nightly run of the 23rd takes the 22nd
// and must backfill the 20th's news too, whatever else its window holds. Before 2026-12-08 its backfills
// covered the range of the dates it enqueued only: a pipeline with a missing day before the 20th had its
// late data backfilled, the other pipelines of the same run not. Real Redis, stub processors.
const [A, B] = ['orders_per_region_5m', 'orders_hourly_15m'];
const q = `nwb${randomUUID().slice(0, 8)}`;
const jobs = new ConcordJobs([A, B], { redisUrl: REDIS, prefix: q });
afterAll(async () => {
  await jobs.queue.obliterate({ force: true });
  await jobs.forgetNightly();
  await jobs.close();
});

describe('the nightly run and late data of the reconciled days of its window', () => {
  it('backfills every reconciled day of the window with news, for each pipeline alike', async () => {
    const reconciled: string[] = [], backfilled: string[] = [];
    const log: string[] = [];
    const worker = startWorker({
      reconcile: async (req: JobRequest) => { reconciled.push(`${req.pipeline} ${req.date}`); return {}; },
      backfill: async (req) => { backfilled.push(`${req.pipeline} ${req.date}`); return {}; },
      // Both pipelines reconciled the 20th and 21st; B also has the 19th to do (its hopping windows of the
      // 19th hold events of the 20th), A does not.
      nights: async (p, dates) => ({
        done: new Set(dates.filter((d) => d === '2026-11-20' || d === '2026-11-21')),
        missing: p === B ? dates.filter((d) => d === '2026-11-19') : [], unarchived: [],
      }),
      // The 20th has news (late events after its reconcile), for both pipelines.
      pendingBackfills: async (_p, dates) => new Map(dates.filter((d) => d === '2026-11-20').map((d) => [d, 1_000] as const)),
    }, { redisUrl: REDIS, prefix: q, pipelines: [A, B], attempts: 1, now: () => Date.parse('2026-11-23T02:00:00.000Z'), log: (l) => log.push(l) });
    try {
      await jobs.recordNightly(A, '2026-11-21');
      await jobs.recordNightly(B, '2026-11-21');
      const night = await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC', cron: '0 2 * * *' }, { jobId: 'n23', timestamp: Date.parse('2026-11-23T02:00:00.000Z') });
      const done = await until('the nightly run', async () => {
        const j = await jobs.queue.getJob(String(night.id));
        return j?.finishedOn !== undefined ? j : undefined;
      });
      expect(done.failedReason).toBeUndefined();
      const enqueued = (done.returnvalue as { enqueued: string[] }).enqueued;
      for (const p of [A, B]) expect(enqueued, p).toContain(jobId('backfill', p, '2026-11-20', 'd1000'));
      await until('the backfills to run', async () => backfilled.length === 2 || undefined);
      expect(backfilled.sort()).toEqual([`${B} 2026-11-20`, `${A} 2026-11-20`].sort());
      // The log names the day backfilled, not the dates the run reconciles.
      expect(log).toContainEqual(expect.stringMatching(/^nightly: 2026-11-20 has dirty cells or archive files written after its last reconcile: enqueued /));
    } finally {
      await worker.close();
    }
  }, 60_000);
});
