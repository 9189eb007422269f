import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redisConnection } from '../../jobs/redis-connection.ts';
import { registerWorker, storeIdentity } from '../../jobs/worker-registry.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { openStore } from '../../store/open-store.ts';
import { jobsTestFile, REDIS } from '../fixtures/jobs-cli.ts';
import { PG_URL } from '../fixtures/postgres.ts';

// Two teams on one Redis, the second team's worker started with the first team's queue prefix: it joined
// their queue silently, took their jobs (failing each for good: "enqueued for store wd1 but this worker
// writes wd2"), and a nightly run it picked up fanned out over its own pipelines into their queue.
const { ws, archiveDir, prefix, concord } = jobsTestFile({ workspacePrefix: 'concord-jobs-one-store-', queuePrefix: 'cjs', waitMs: 30_000 });

describe('jobs worker: one store per queue prefix', () => {
  const redis = redisConnection(REDIS);
  afterAll(() => redis.disconnect());

  it('a worker of another store than the workers alive on its queue prefix is refused at start, naming both stores (exit 2)', async () => {
    const q = prefix();
    const theirs = storeIdentity(PG_URL, 'team_one');
    const registration = registerWorker(redis, q, theirs, archiveDir);
    try {
      const mine = `duckdb:${join(ws.dir, 'team-two.duckdb')}`;
      const run = await concord(['jobs', 'worker', '--archive', archiveDir, '--store', mine], { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q }, 30_000);
      expect(run.signal, run.stderr).toBeNull();
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`queue prefix ${q} has 1 worker alive writing ${theirs}`);
      expect(run.stderr).toContain(`this worker would write ${storeIdentity(mine, 'concord')}`);
      expect(run.stderr).toContain('CONCORD_QUEUE_PREFIX');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await registration.stop();
    }
  }, 60_000);

  // An embedded store is held by its worker while it runs: `jobs backfill` said only DuckDB's lock error
  // ("another process holds it"), not that it was the queue's own worker, nor what works instead.
  it('jobs backfill on the embedded store a live worker holds names the worker and what to do (exit 2)', async () => {
    const q = prefix();
    const file = join(ws.dir, 'held.duckdb');
    const held = await openStore(`duckdb:${file}`, { registry: seedRegistry() }); // this process plays the worker
    const registration = registerWorker(redis, q, storeIdentity(`duckdb:${file}`), archiveDir);
    try {
      const run = await concord(['jobs', 'backfill', '--from', '2026-11-23', '--to', '2026-11-23', '--store', `duckdb:${file}`], { REDIS_URL: REDIS, CONCORD_QUEUE_PREFIX: q, CONCORD_DUCKDB_LOCK_WAIT_MS: '0' }, 30_000);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`the job worker ${registration.info.host}:${registration.info.pid} holds the embedded DuckDB store ${storeIdentity(`duckdb:${file}`)} while it runs`);
      expect(run.stderr).toContain('`concord jobs enqueue --date D --force`');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await registration.stop();
      await held.close();
    }
  }, 60_000);
});
