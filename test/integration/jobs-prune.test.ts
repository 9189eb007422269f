import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId, previousDate } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { until } from '../fixtures/jobs-cli.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { P } from '../fixtures/result-store.ts';
import { fillRetentionStore, MID, OLD } from '../fixtures/retention-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { afterAll } from 'vitest';

// The nightly run with a retention set (jobs/job-worker.ts): it enqueues `prune__<date>`, which waits for
// the night's reconciles and then prunes the store (real Redis, real PostgreSQL).
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const schemas = testSchemas();
const ws = tempWorkspace('jobs-prune');
afterAll(async () => { ws.cleanup(); await schemas.drop(); });

describe('the nightly run prunes the store after its reconciles', () => {
  it('no retention: no prune job; with one: prune__<date> waits for the reconcile, then deletes exactly what the retention says', async () => {
    const registry = seedRegistry();
    const store = await fillRetentionStore(PG_URL, schemas.next('jp'));
    expect(defaultProcessors({ store, registry, archiveDir: ws.dir }).prune).toBeUndefined();
    const before = await store.heldRows(P);
    const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix: `rp${randomUUID().slice(0, 8)}` });
    // The night's reconcile holds until the test lets it go: the prune job must wait for it meanwhile.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const reconciled: string[] = [];
    const processors = {
      ...defaultProcessors({ store, registry, archiveDir: ws.dir, retention: { keepDays: 5, keepVersions: 1 } }),
      reconcile: async (req: { date: string; pipeline: string }) => {
        await gate;
        reconciled.push(`${req.pipeline} ${req.date} pruned before: ${(await store.prunedAt(P, OLD)) !== null}`);
        return {};
      },
    };
    const log: string[] = [];
    // The store's watermark is the fixture's, weeks before the night's date: the reconcile would wait for
    // the stream (jobs-stream-wait.test.ts). This worker does not wait.
    const worker = startWorker(processors, {
      redisUrl: REDIS, prefix: jobs.settings.prefix, pipelines: [P], concurrency: 3, lockRetryMs: 100, log: (l) => log.push(l), streamWait: { maxWaitMs: 0, recheckMs: 100 },
    });
    try {
      const night = await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC' }, { jobId: 'nightly-prune' });
      const date = previousDate(Date.now(), 'UTC');
      const pruneId = `prune__${date}`;
      await until('the prune job waiting for the reconcile', async () => log.some((l) => l.startsWith(`${pruneId}: waiting for ${jobId('reconcile', P, date)}`)), 30_000, 50);
      expect(await store.prunedAt(P, OLD)).toBeNull();
      release();
      await until('the prune job', async () => (await jobs.queue.getJob(pruneId))?.finishedOn !== undefined, 30_000, 50);
      expect((await jobs.queue.getJob(String(night.id)))?.returnvalue).toMatchObject({ enqueued: [jobId('reconcile', P, date), pruneId] });
      expect(reconciled).toEqual([`${P} ${date} pruned before: false`]);
      const pruned = await jobs.queue.getJob(pruneId);
      expect(pruned?.failedReason).toBeUndefined();
      expect(pruned?.returnvalue).toEqual({
        keepDays: 5, keepVersions: 1, days: 2,
        deleted: [`${P}: 1 day whole (${OLD}), 1 superseded version of 1 day; 17 rows (changes 1, day_live 1, day_versions 1, late_events 1, reconciliations 2, result_history 1, result_rows 9, switch_log 1)`,
          `input schema clicks: verdicts on events before ${MID}; 2 rows (quarantined_events 1, rejected_events 1)`],
      });
      const after = await store.heldRows(P);
      expect(after).toEqual({ days: { [MID]: { ...before.days[MID], result_rows: 12, reconciliations: 3 }, '2026-11-23': before.days['2026-11-23'] }, pruned: [OLD] });
    } finally {
      release();
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.forgetNightly();
      await jobs.close();
      await store.close();
    }
  }, 60_000);
});
