import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { openStore } from '../../store/open-store.ts';
import { archiveClicks, REDIS, streamClicks, until } from '../fixtures/jobs-cli.ts';
import { storeBackends } from '../fixtures/result-store.ts';

// The nightly catch-up after Redis lost its record of the nights enqueued (a flush, a failover to an
// empty replica): the store says which days were reconciled (jobs/missed-nights.ts). Real Redis (a queue
// prefix of this file's own, only its keys removed), both store backends, a small Parquet archive, the
// runs' clock injected.
const P = pageViewsPerMinute.name;
const DAYS = ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23'];
const { ws, schemas, backends } = storeBackends();
const archiveDir = join(ws.dir, 'archive');
const clicks = new Map(DAYS.map((date, i) => [date, generateDay({ seed: 40 + i, date, clicks: 200, transactions: 0, lateFraction: 0 }).clicks]));

beforeAll(async () => {
  for (const [date, lines] of clicks) await archiveClicks(archiveDir, lines, `file:clicks-${date}.jsonl`);
}, 60_000);

describe.each(backends)('nights missed, then Redis emptied: the store says what is left ($name)', (backend) => {
  const q = `catchup${randomUUID().slice(0, 8)}`;
  const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix: q });
  let store: Awaited<ReturnType<typeof openStore>>;
  let clock = 0;
  const log: string[] = [];
  let worker: ReturnType<typeof startWorker>;

  beforeAll(async () => {
    store = await openStore(backend.url(), { schema: schemas.next('catchup'), registry: seedRegistry() });
    await streamClicks(store, [...clicks].map(([date, lines]) => [`file:clicks-${date}.jsonl`, lines] as const));
    // Each day's stream ends at its last click, in the evening: the store's watermark stays short of the
    // 23rd's end, and a nightly reconcile of it would wait for the stream (jobs/stream-wait.ts; tested in
    // jobs-stream-wait.test.ts). Which nights run is this file's question: this worker does not wait.
    worker = startWorker(defaultProcessors({ store, registry: seedRegistry(), archiveDir }), {
      redisUrl: REDIS, prefix: q, pipelines: [P], attempts: 2, backoffMs: 100, now: () => clock, nightlyCatchUpDays: 3, log: (l) => log.push(l),
      streamWait: { maxWaitMs: 0, recheckMs: 100 },
    });
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await jobs.queue.obliterate({ force: true });
    await jobs.forgetNightly();
    await jobs.close();
    await store?.close();
  });

  /** A nightly run meant for `at`, run at `at`; its outcome once it finished. */
  const night = async (id: string, at: string) => {
    clock = Date.parse(at);
    await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC', cron: '0 2 * * *' }, { jobId: id, timestamp: clock });
    return until(`${id} to finish`, async () => {
      const j = await jobs.queue.getJob(id);
      return j?.finishedOn !== undefined ? j.returnvalue as Record<string, unknown> : undefined;
    }, 60_000);
  };
  const settled = (date: string) => until(`the reconcile of ${date}`, async () => {
    const [j] = await jobs.current([jobId('reconcile', P, date)]);
    return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
  }, 60_000);
  /** What Redis loses with its data: this queue's jobs and the record of the nights enqueued. */
  const redisEmptied = async () => {
    await jobs.queue.obliterate({ force: true });
    await jobs.forgetNightly();
  };

  it('the next run on time takes the missed nights from the store, and a run after another loss redoes none', async () => {
    expect(await night('n21', '2026-11-21T02:00:00.000Z')).toMatchObject({ date: '2026-11-20', enqueued: [jobId('reconcile', P, '2026-11-20')] });
    expect(await settled('2026-11-20')).toMatchObject({ state: 'completed', result: { generation: 1 } });
    const before = await store.nightRecord(P, DAYS);
    expect({ reconciled: [...before.reconciled], streamed: [...before.streamed] }).toEqual({ reconciled: ['2026-11-20'], streamed: ['2026-11-21', '2026-11-22', '2026-11-23'] });

    // No worker ran the nights of the 22nd and 23rd, and Redis came back empty (`jobs schedule` again).
    // The run reaches back 3 days (nightlyCatchUpDays), the 21st to the 23rd: not to the 20th, done anyway.
    await redisEmptied();
    expect(await night('n24', '2026-11-24T02:00:00.000Z')).toEqual({
      date: '2026-11-23', dates: ['2026-11-21', '2026-11-22', '2026-11-23'],
      enqueued: ['2026-11-21', '2026-11-22', '2026-11-23'].map((d) => jobId('reconcile', P, d)),
    });
    for (const d of ['2026-11-21', '2026-11-22', '2026-11-23']) expect(await settled(d), d).toMatchObject({ state: 'completed', result: { generation: 1 } });
    expect(log).toContain(`nightly: ${P}: the store has no reconciled version of 2026-11-21, 2026-11-22 (stream rows and archived events there): enqueued with the night's`);

    // Lost again, and the same night run again: its night (the 23rd) is done in the store, as are the days before:
    // none is replayed or counted twice.
    await redisEmptied();
    expect(await night('n24-again', '2026-11-24T02:00:00.000Z')).toEqual({ date: '2026-11-23', dates: [], reconciled: { [P]: ['2026-11-23'] }, enqueued: [] });
    for (const d of DAYS) {
      expect((await store.reconciliations(P, d)).map((r) => r.generation), d).toEqual([1]);
      expect((await store.status(P, d)).liveGeneration, d).toBe(1);
    }
    const record = await store.nightRecord(P, ['2026-11-19', ...DAYS, '2026-11-24']);
    expect({ reconciled: [...record.reconciled].sort(), streamed: [...record.streamed] }).toEqual({ reconciled: DAYS, streamed: [] });
  }, 180_000);
});
