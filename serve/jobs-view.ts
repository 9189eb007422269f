import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { attemptsOf, NIGHTLY, QUEUE, jobSettings, type JobData } from '../jobs/job-queue.ts';
import { registeredWorkers } from '../jobs/worker-registry.ts';
import { redact } from '../store/sql-driver.ts';

export interface JobRun {
  id: string;
  kind: string;
  pipeline: string | null;
  date: string | null;
  state: string;
  attempts: number;
  progress: unknown;
  result: unknown;
  failed_reason: string | null;
  /** The error of the last failed attempt, also when a retry then ran (or runs) on. */
  last_error: string | null;
  created_at: string | null;
  processed_at: string | null;
  finished_at: string | null;
  /** The store the job was enqueued for (`jobs enqueue --store`), null when it runs on any worker's store. */
  store: string | null;
}

/** A worker alive on the queue prefix (it renews its registration every 10 s; gone 30 s after it died). */
export interface JobWorker {
  id: string;
  host: string;
  pid: number;
  store: string;
  archive: string | null;
  started_at: string;
}

const STATES = ['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'] as const;
const iso = (ms: number | undefined | null) => (typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : null);

/** Redis did not answer in time (or is down): the API says so at once instead of hanging. */
export class JobsUnavailableError extends Error {}

/**
 * The BullMQ queue the jobs commands use (`concord jobs ...`), read only: counts per state and the
 * last run per (kind, pipeline, date) with progress and errors. Every call gives up after `timeoutMs`
 * (ioredis would otherwise queue commands until Redis comes back).
 */
export class JobsView {
  readonly url: string;
  private readonly queue: Queue<JobData>;
  private readonly connection: Redis;
  private readonly timeoutMs: number;
  private readonly prefix: string;

  constructor(redisUrl?: string, options: { prefix?: string; timeoutMs?: number } = {}) {
    const settings = jobSettings({ ...(redisUrl === undefined ? {} : { redisUrl }), ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
    this.url = redact(settings.redisUrl);
    this.prefix = settings.prefix;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.connection = new Redis(settings.redisUrl, {
      lazyConnect: true, connectTimeout: this.timeoutMs, maxRetriesPerRequest: 1, enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(times * 500, 5_000),
    });
    this.connection.on('error', () => undefined); // reported on the calls that fail
    this.queue = new Queue<JobData>(QUEUE, { connection: this.connection, prefix: settings.prefix });
    this.queue.on('error', () => undefined);
  }

  private within<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new JobsUnavailableError(`Redis at ${this.url} did not answer within ${this.timeoutMs} ms`)), this.timeoutMs); });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  async counts(): Promise<Record<string, number>> {
    return this.within(this.queue.getJobCounts(...STATES, 'waiting-children'));
  }

  /** The newest run of each (kind, pipeline, date) among the last `perState` jobs of each state, newest first. */
  async lastRuns(perState = 200): Promise<JobRun[]> {
    const runs: JobRun[] = [];
    for (const state of STATES) {
      const jobs = await this.within(this.queue.getJobs([state], 0, perState - 1, false));
      for (const j of jobs) {
        if (!j) continue;
        runs.push({
          id: String(j.id), kind: j.name, pipeline: j.data.pipeline ?? null, date: j.data.date ?? null, state, attempts: attemptsOf(j), progress: j.progress ?? null,
          // BullMQ keeps an earlier attempt's error on a job that then completed: a failure only when it failed.
          result: j.returnvalue ?? null, failed_reason: state === 'failed' ? j.failedReason || null : null, last_error: j.failedReason || null, created_at: iso(j.timestamp), processed_at: iso(j.processedOn), finished_at: iso(j.finishedOn),
          store: j.data.store ?? null,
        });
      }
    }
    const newest = new Map<string, JobRun>();
    const when = (r: JobRun) => r.finished_at ?? r.processed_at ?? r.created_at ?? '';
    for (const r of runs) {
      const id = `${r.kind}\u0000${r.pipeline ?? ''}\u0000${r.date ?? ''}`;
      const seen = newest.get(id);
      if (!seen || when(r) > when(seen)) newest.set(id, r);
    }
    return [...newest.values()].sort((a, b) => (when(a) < when(b) ? 1 : -1));
  }

  /** The nightly schedule (`concord jobs schedule`), null when there is none (never made, or lost with Redis' data). */
  async schedule(): Promise<{ cron: string | null; tz: string; next_run: string | null } | null> {
    const s = await this.within(this.queue.getJobScheduler(NIGHTLY));
    return s ? { cron: s.pattern ?? null, tz: s.tz ?? 'UTC', next_run: iso(s.next) } : null;
  }

  /** The workers alive on the queue prefix and the store each writes, oldest first. */
  async workers(): Promise<JobWorker[]> {
    const alive = await this.within(registeredWorkers(this.connection, this.prefix));
    return alive.map((w) => ({ id: w.id, host: w.host, pid: w.pid, store: w.store, archive: w.archive ?? null, started_at: w.startedAt }));
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
  }
}
