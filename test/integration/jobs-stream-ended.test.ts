import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { statusLine } from '../../cli/commands/jobs.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { redisConnection } from '../../jobs/redis-connection.ts';
import { openStore } from '../../store/open-store.ts';
import { archiveClicks, jobsTestFile, REDIS, streamClicks } from '../fixtures/jobs-cli.ts';
import { PG_URL } from '../fixtures/postgres.ts';

// A day file streamed into the store (`concord stream --input day.jsonl --store`) ends its input short of
// the day's end: the store records that (store/input-ends.ts), and the nightly reconcile does not wait
// for a stream that has nothing more to give (it waited its max wait, 6 h, before). A live stream writing
// the day afterwards makes the day behind again. Real CLI, Redis (queue prefixes of this file's own),
// embedded DuckDB and PostgreSQL (a schema of its own), the nightly run's clock injected.
const P = pageViewsPerMinute.name;
const DAY = '2026-11-23';
const EIGHT = Date.parse(`${DAY}T08:00:00.000Z`);
const f = jobsTestFile({ workspacePrefix: 'concord-jobs-ended-', queuePrefix: 'jobs-ended-', waitMs: 60_000 });
const ts = (line: string) => (JSON.parse(line) as { ts: number }).ts;
const day = generateDay({ seed: 7, date: DAY, clicks: 300, transactions: 0, lateFraction: 0 }).clicks;
const morning = day.filter((l) => ts(l) < EIGHT);
const noon = day.filter((l) => ts(l) >= EIGHT && ts(l) < EIGHT + 4 * 3_600_000);

describe.each(['duckdb', 'postgres'] as const)('a bounded run into a %s store and the nightly reconcile', (backend) => {
  it('does not wait for a stream whose input ended, says why; waits again once a live stream writes the day', async () => {
    const dir = join(f.ws.dir, backend);
    const archiveDir = join(dir, 'archive');
    const input = join(f.ws.dir, `${backend}-morning.jsonl`);
    writeFileSync(input, `${morning.join('\n')}\n`);
    await archiveClicks(archiveDir, morning, `file:${input}`);
    const schema = f.schemas.next('jobs_ended');
    const url = backend === 'duckdb' ? `duckdb:${join(dir, 'store.duckdb')}` : PG_URL;
    const env = { CONCORD_STORE_SCHEMA: backend === 'postgres' ? schema : undefined, CONCORD_STORE: undefined };
    // Named relative to the CLI's directory (the repository): the store keeps it absolute.
    const streamed = await f.concord(['stream', '--pipeline', P, '--input', relative(fileURLToPath(new URL('../..', import.meta.url)), input), '--output', join(dir, 'out.jsonl'), '--store', url], env);
    expect(streamed.code, streamed.stderr).toBe(0);

    const store = await openStore(url, { registry: seedRegistry(), ...(backend === 'postgres' ? { schema } : {}) });
    const prefix = `jobs-ended-${backend}-${randomUUID().slice(0, 8)}`;
    const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix });
    const log: string[] = [];
    const worker = startWorker(defaultProcessors({ store, registry: seedRegistry(), archiveDir }), {
      redisUrl: REDIS, prefix, pipelines: [P], attempts: 1, concurrency: 1, now: () => Date.parse('2026-11-24T02:00:00.000Z'), nightlyCatchUpDays: 1,
      streamWait: { maxWaitMs: 6 * 3_600_000, recheckMs: 200 }, log: (l) => log.push(l),
    });
    const job = async (id: string) => (await jobs.current([id]))[0];
    try {
      const w = await store.watermark(P);
      expect(w !== null && w < EIGHT).toBe(true);
      const end = await store.inputEnd(P);
      expect(end).toMatchObject({ at: `${input} to its end (${morning.length} lines)`, watermark: w });
      expect(end?.run).toMatch(new RegExp(`^concord stream --pipeline ${P} --input ${input} \\(definition version \\w+\\)$`));

      // The night of the 24th: the 23rd is reconciled at once, from what is archived, with the reason in its result.
      await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC', cron: '0 2 * * *' }, { jobId: 'night-1', timestamp: Date.parse('2026-11-24T02:00:00.000Z') });
      const reconcile23 = jobId('reconcile', P, DAY);
      const done = await f.until('the reconcile to finish', async () => {
        const j = await job(reconcile23);
        return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
      });
      expect(done).toMatchObject({ state: 'completed', result: { generation: 1, unexplained: 0 } });
      expect(done.data.streamWait).toBeUndefined();
      const note = (done.result as { note?: string }).note!;
      expect(note).toMatch(new RegExp(`^reconciled without waiting for the stream \\(its input ended\\): the stream's watermark is at ${new Date(w!).toISOString()}, before the day's end`));
      expect(note).toContain(`its input ended there: concord stream --pipeline ${P} --input ${input} (definition version `);
      expect(statusLine(done)).toContain(note.slice(0, 80));
      expect(log).toContain(`${reconcile23}: ${note}`);
      expect(log.filter((l) => l.includes('waiting for the stream:'))).toEqual([]);

      // A live stream follows the backfill and writes more of the day (up to noon): no input end any more,
      // and a nightly reconcile of the day waits for it again.
      await streamClicks(store, [['kafka:clicks', noon]]);
      expect(await store.inputEnd(P)).toBeUndefined();
      const [again] = await jobs.enqueueReconcile(DAY, P, true, { waitForStream: true });
      const waiting = await f.until('the rerun to wait for the stream', async () => {
        const j = await job(String(again!.id));
        return j?.state === 'delayed' && (j.data.streamWait?.checks ?? 0) >= 1 ? j : undefined;
      });
      expect((waiting.progress as { waiting?: string }).waiting).toMatch(/^waiting for the stream: watermark at 2026-11-23T1[12]:/);
    } finally {
      await worker.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.forgetNightly();
      await jobs.close();
      await store.close();
      const redis = redisConnection(REDIS);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }, 180_000);
});
