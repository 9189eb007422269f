import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statusLine } from '../../cli/commands/jobs.ts';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs, type JobStatus } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { redisConnection } from '../../jobs/redis-connection.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { openStore } from '../../store/open-store.ts';
import { StoreSink } from '../../store/store-sink.ts';
import { runStream } from '../../stream/runtime.ts';
import { archiveClicks, REDIS, streamClicks, until } from '../fixtures/jobs-cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A nightly reconcile of a day the stream has not read to its end (a backlog after an outage, a replay
// of old data from Kafka) waits for it, within a bound, and says so (jobs/stream-wait.ts). Real Redis
// (queue prefixes of this file's own, their keys deleted after), embedded DuckDB stores and Parquet
// archives in a temp dir, the stream written as `concord stream --store` writes it, the runs' clock injected.
const P = pageViewsPerMinute.name;
const DAY = '2026-11-23';
const EIGHT = Date.parse(`${DAY}T08:00:00.000Z`);
const ws = tempWorkspace('concord-nightly-s36-');
const clicks = (date: string, seed: number) => generateDay({ seed, date, clicks: 300, transactions: 0, lateFraction: 0 }).clicks;
const ts = (line: string) => (JSON.parse(line) as { ts: number }).ts;
/** The 23rd in two parts, at 08:00 (a minute's bound: no window has events of both). */
const day = clicks(DAY, 7);
const morning = day.filter((l) => ts(l) < EIGHT);
const rest = day.filter((l) => ts(l) >= EIGHT);
const prefixes: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers) await close();
  const redis = redisConnection(REDIS);
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
  ws.cleanup();
});

/** A DuckDB store, an archive, a queue prefix and a worker of their own; the nightly run's clock is `clock`. */
async function setup(name: string, maxWaitMs: number) {
  const prefix = `nightly-s36-${name}-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  const archiveDir = join(ws.dir, name, 'archive');
  const store = await openStore(`duckdb:${join(ws.dir, name, 'store.duckdb')}`, { registry: seedRegistry() });
  const jobs = new ConcordJobs([P], { redisUrl: REDIS, prefix });
  const log: string[] = [];
  const t = { clock: Date.parse('2026-11-24T02:00:00.000Z') };
  const worker = startWorker(defaultProcessors({ store, registry: seedRegistry(), archiveDir }), {
    redisUrl: REDIS, prefix, pipelines: [P], attempts: 2, backoffMs: 100, concurrency: 1, now: () => t.clock, nightlyCatchUpDays: 1,
    streamWait: { maxWaitMs, recheckMs: 200 }, log: (l) => log.push(l),
  });
  closers.push(async () => {
    await worker.close();
    await jobs.queue.obliterate({ force: true });
    await jobs.forgetNightly();
    await jobs.close();
    await store.close();
  });
  const job = async (id: string) => (await jobs.current([id]))[0];
  return {
    store, jobs, log, t, archiveDir,
    /** The night of the 24th at 02:00: the 23rd's reconcile enqueued. */
    night: async () => {
      const id = `night-${randomUUID().slice(0, 8)}`;
      await jobs.queue.add('nightly', { kind: 'nightly', timeZone: 'UTC', cron: '0 2 * * *' }, { jobId: id, timestamp: t.clock });
      return until(`${id} to finish`, async () => (await job(id))?.state === 'completed' ? (await job(id))!.result : undefined, 60_000);
    },
    job,
    settled: (id: string) => until(`${id} to finish`, async () => {
      const j = await job(id);
      return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
    }, 60_000),
    /** The job once it is delayed waiting for the stream, after at least `checks` checks. */
    waiting: (id: string, checks = 1) => until(`${id} to wait for the stream`, async () => {
      const j = await job(id);
      return j?.state === 'delayed' && (j.data.streamWait?.checks ?? 0) >= checks ? j : undefined;
    }, 60_000),
  };
}

const reconcile23 = jobId('reconcile', P, DAY);
/** The stream's watermark in `store`, as the jobs print it: somewhere in the morning of the 23rd. */
const streamWatermark = async (store: Awaited<ReturnType<typeof openStore>>) => {
  const w = await store.watermark(P);
  expect(w !== null && w > Date.parse(`${DAY}T00:00:00.000Z`) && w < EIGHT).toBe(true);
  return new Date(w!).toISOString();
};
const waitingWhy = (j: JobStatus) => (j.progress as { waiting?: string }).waiting;

describe('the nightly reconcile and a stream behind its day', () => {
  it('waits (not reconciled, status says why, other jobs run), then reconciles once the stream read the day', async () => {
    const s = await setup('behind', 6 * 3_600_000);
    const day22 = clicks('2026-11-22', 6);
    await archiveClicks(s.archiveDir, day22, 'file:clicks-22.jsonl');
    await archiveClicks(s.archiveDir, morning, 'file:clicks-23-morning.jsonl');
    await streamClicks(s.store, [['file:clicks-22.jsonl', day22], ['file:clicks-23-morning.jsonl', morning]]);

    const w = await streamWatermark(s.store);
    expect(await s.night()).toMatchObject({ date: DAY, enqueued: [reconcile23] });
    const waiting = await s.waiting(reconcile23, 2);
    expect(waitingWhy(waiting)).toBe(`waiting for the stream: watermark at ${w}, the day is final at 2026-11-24T00:05:30.000Z; checked again every 200ms, ` +
      'reconciled anyway at 2026-11-24T08:00:00.000Z (nightly max wait 6h)');
    expect(statusLine(waiting)).toBe(`${reconcile23} delayed attempts=0 — ${waitingWhy(waiting)}`);
    expect(s.log).toContain(`${reconcile23}: ${waitingWhy(waiting)}`);
    expect(await s.store.reconciliations(P, DAY)).toEqual([]);

    // A job waiting for the stream takes no worker's slot (concurrency 1): another day is reconciled meanwhile.
    const [day22Job] = await s.jobs.enqueueReconcile('2026-11-22', P);
    expect(await s.settled(String(day22Job!.id))).toMatchObject({ state: 'completed', result: { generation: 1 } });
    // (It is rechecked meanwhile: delayed, or active for the moment of a check; never reconciled.)
    expect(['delayed', 'active', 'waiting']).toContain((await s.job(reconcile23))?.state);
    expect(await s.store.reconciliations(P, DAY)).toEqual([]);

    // The stream reads the rest of the day and into the next (a quiet night's last event does not end the
    // day: the next day's events move the watermark past it); the archiver got there first. The job
    // reconciles the whole day.
    const next = clicks('2026-11-24', 8).filter((l) => ts(l) < Date.parse('2026-11-24T03:00:00.000Z'));
    await archiveClicks(s.archiveDir, rest, 'file:clicks-23-rest.jsonl');
    await archiveClicks(s.archiveDir, next, 'file:clicks-24.jsonl');
    await streamClicks(s.store, [['file:clicks-23-rest.jsonl', rest], ['file:clicks-24.jsonl', next]]);
    const done = await s.settled(reconcile23);
    expect(done).toMatchObject({ state: 'completed', result: { generation: 1, unexplained: 0 } });
    expect(done.result).not.toHaveProperty('note');
    expect(statusLine(done)).toMatch(new RegExp(`^${reconcile23} completed attempts=1 `));
    expect(s.log.some((l) => l.startsWith(`${reconcile23}: the stream reached the day's end after `))).toBe(true);
    expect(await s.store.dirtyCells(P, DAY)).toEqual([]);
    expect((await s.store.status(P, DAY)).liveGeneration).toBe(1);
  }, 180_000);

  it('reconciles with a note once the max wait passed; a job enqueued by hand does not wait and notes it', async () => {
    const s = await setup('maxwait', 3_600_000);
    await archiveClicks(s.archiveDir, morning, 'file:clicks-23-morning.jsonl');
    await streamClicks(s.store, [['file:clicks-23-morning.jsonl', morning]]);

    const w = await streamWatermark(s.store);
    await s.night();
    await s.waiting(reconcile23);
    s.t.clock += 3_600_000;
    const done = await s.settled(reconcile23);
    expect(done).toMatchObject({ state: 'completed', result: { generation: 1 } });
    const note = (done.result as { note?: string }).note;
    expect(note).toMatch(new RegExp(`^reconciled after waiting 1h for the stream \\(the nightly max wait\\): the stream's watermark is at ${w}, before the day's end`));
    expect(s.log).toContain(`${reconcile23}: ${note!}`);
    expect((await s.store.reconciliations(P, DAY)).map((r) => r.generation)).toEqual([1]);

    const [byHand] = await s.jobs.enqueueReconcile(DAY, P, true);
    const rerun = await s.settled(String(byHand!.id));
    expect(rerun.state).toBe('completed');
    expect(rerun.data.streamWait).toBeUndefined();
    expect((rerun.result as { note?: string }).note).toMatch(new RegExp(`^the stream's watermark is at ${w}, before the day's end \\(it is behind the clock`));
  }, 180_000);

  it('does not wait when the store holds no stream watermark of the pipeline', async () => {
    const s = await setup('nowatermark', 6 * 3_600_000);
    await archiveClicks(s.archiveDir, morning, 'file:clicks-23-morning.jsonl');
    // The same half day as above, its rows written without the stream's watermark.
    const sink = new StoreSink(s.store);
    await runStream({
      pipelines: [pageViewsPerMinute], source: memoryBatches('file:clicks-23-morning.jsonl', morning, 1000),
      onResult: (r) => sink.result({ ...r, watermark: null }), onLate: (l) => sink.lateEvent(l, false), onDeadLetter: () => undefined,
    });
    await sink.flush();
    expect(await s.store.watermark(P)).toBeNull();

    await s.night();
    const done = await s.settled(reconcile23);
    expect(done).toMatchObject({ state: 'completed', result: { generation: 1 } });
    expect(done.result).not.toHaveProperty('note');
    expect(done.data.streamWait).toBeUndefined();
    expect(s.log.filter((l) => l.includes('waiting for the stream'))).toEqual([]);
  }, 180_000);
});
