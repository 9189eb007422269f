import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedPipelineNames, seedRegistry } from '../../examples/seed.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker, type JobProcessors } from '../../jobs/job-worker.ts';
import { openStore } from '../../store/open-store.ts';
import { archiveClicks, streamClicks, until } from '../fixtures/jobs-cli.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A network that silently drops packets under a `jobs worker` reconciling a day into PostgreSQL: the
// store's pool had no connect or statement bound, so the attempt waited forever and the job was never
// retried (BullMQ kept renewing its lock). Here the answer to the reconcile's publish COMMIT is lost:
// the attempt gives up as "store does not answer", is retried once PostgreSQL answers, and the retry
// finds the day published by the attempt whose outcome it did not know: one version, published once.
const ws = tempWorkspace();
const schemas = testSchemas();
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATE = '2026-11-23';
const P = pageViewsPerMinute.name;
const ENV = { CONCORD_PG_SILENCE_MS: '300', CONCORD_PG_CONNECT_TIMEOUT_MS: '300' };
const saved = Object.fromEntries(Object.keys(ENV).map((k) => [k, process.env[k]]));

describe('jobs worker when PostgreSQL goes silent during a reconcile', () => {
  const schema = schemas.next('pgwait_js');
  const archiveDir = join(ws.dir, 'archive');
  let proxy: TcpProxy | undefined;
  beforeAll(async () => {
    const day = generateDay({ seed: 3, date: DATE, clicks: 2_000, transactions: 0, lateFraction: 0.01 });
    const store = await openStore(PG_URL, { schema, registry: seedRegistry() });
    await streamClicks(store, [['file:clicks.jsonl', day.clicks]]);
    await store.close();
    await archiveClicks(archiveDir, day.clicks, 'file:clicks.jsonl');
    Object.assign(process.env, ENV);
  }, 60_000);
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    await proxy?.close();
    ws.cleanup();
    await schemas.drop();
  });

  it('the attempt fails as "store does not answer", is retried, and the day is published once', async () => {
    const target = new URL(PG_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(PG_URL);
    url.host = proxy.address;
    const store = await openStore(url.toString(), { schema, registry: seedRegistry() });
    const q = `pgwait${randomUUID().slice(0, 8)}`;
    const jobs = new ConcordJobs(seedPipelineNames, { redisUrl: REDIS, prefix: q, attempts: 10, backoffMs: 200 });
    const failures: string[] = [];
    const real = defaultProcessors({ store, registry: seedRegistry(), archiveDir });
    const watched: JobProcessors = {
      ...real,
      reconcile: async (req, progress) => {
        try {
          return await real.reconcile(req, progress);
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
          throw error;
        }
      },
    };
    const worker = startWorker(watched, { redisUrl: REDIS, prefix: q });
    try {
      const silent = proxy.blackholeAfter('COMMIT\0');
      const [job] = await jobs.enqueueReconcile(DATE, P);
      await silent;
      await until('the attempt to fail', async () => failures.length > 0, 30_000, 50);
      expect(failures[0]).toMatch(/PostgreSQL did not answer for [\d.]+ s, nor a new connection within 300 ms/);
      // The lost answer's COMMIT was the publish: version 1 is live, though the attempt failed.
      const direct = await openStore(PG_URL, { schema, registry: seedRegistry() });
      try {
        expect(await direct.status(P, DATE)).toMatchObject({ liveGeneration: 1, generations: [1] });
      } finally {
        await direct.close();
      }
      await proxy.restore();
      const done = await until('the job to complete', async () => {
        const id = String(job!.id);
        return (await jobs.queue.getJobState(id)) === 'completed' ? await jobs.queue.getJob(id) : undefined;
      }, 30_000, 50);
      expect(done!.attemptsMade).toBeGreaterThanOrEqual(2);
      expect(await store.status(P, DATE)).toMatchObject({ liveGeneration: 1, generations: [1] });
      const published = (await store.reconciliations(P, DATE)).filter((r) => r.status === 'published');
      expect(published).toHaveLength(1);
      // Recorded as the lost attempt's publish: the switch 0 -> 1 and what it corrected.
      const corrected = (await store.changesSince(0)).filter((c) => c.pipeline === P && c.provenance === 'reconciled');
      expect(corrected.length).toBeGreaterThan(0);
      expect(published[0]).toMatchObject({ generation: 1, previous_generation: 0, corrections: corrected.length });
    } finally {
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
      await store.close();
    }
  }, 60_000);
});
