import { Queue, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { ConcordError } from '../pipeline/errors.ts';
import { datesBetween, jobId, type JobKind } from './job-ids.ts';

export interface JobData {
  kind: JobKind | 'nightly';
  pipeline?: string;
  date?: string;
  /** Nightly: the time zone whose previous date is reconciled. */
  timeZone?: string;
}

export interface JobSettings {
  /** REDIS_URL, default redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Queue (and lock key) prefix; CONCORD_QUEUE_PREFIX, default `concord`. */
  prefix?: string;
  attempts?: number;
  backoffMs?: number;
}

export function jobSettings(overrides: JobSettings = {}): Required<JobSettings> {
  return {
    redisUrl: overrides.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix: overrides.prefix ?? process.env.CONCORD_QUEUE_PREFIX ?? 'concord',
    attempts: overrides.attempts ?? Number(process.env.CONCORD_JOB_ATTEMPTS ?? 5),
    backoffMs: overrides.backoffMs ?? Number(process.env.CONCORD_JOB_BACKOFF_MS ?? 5_000),
  };
}

export const QUEUE = 'concord-jobs';

/** A Redis connection as BullMQ needs it (blocking commands: no per-request retry limit). */
export function redisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}


export interface JobStatus {
  id: string;
  name: string;
  state: string;
  data: JobData;
  attemptsMade: number;
  progress: unknown;
  failedReason?: string;
  result?: unknown;
}

/**
 * The job queue: reconcile and backfill jobs per (pipeline, date) with ids derived from them (so
 * enqueueing twice is one job; `all` expands to the same per-pipeline ids), retries with exponential
 * backoff, and the nightly scheduler.
 */
export class ConcordJobs {
  readonly settings: Required<JobSettings>;
  readonly queue: Queue<JobData>;
  private readonly connection: Redis;
  /** Every pipeline of the loaded definitions: what `all` and the nightly run fan out over. */
  private readonly pipelineNames: readonly string[];

  constructor(pipelineNames: readonly string[], settings: JobSettings = {}) {
    this.pipelineNames = pipelineNames;
    this.settings = jobSettings(settings);
    this.connection = redisConnection(this.settings.redisUrl);
    this.queue = new Queue<JobData>(QUEUE, { connection: this.connection, prefix: this.settings.prefix });
    // A lost Redis connection is re-emitted as 'error'; without a listener Node would throw. ioredis
    // reconnects by itself and queued commands run then; callers see errors on the calls that fail.
    this.queue.on('error', (error) => { this.lastConnectionError = error; });
  }

  private pipelines(name: string | undefined): readonly string[] {
    if (name === undefined || name === 'all') return this.pipelineNames;
    if (!this.pipelineNames.includes(name)) {
      throw new ConcordError(`unknown pipeline "${name}"; pipelines of the definitions: ${this.pipelineNames.join(', ')}`, { domain: 'user' });
    }
    return [name];
  }

  /** The last connection error (e.g. while Redis restarted), for status output. */
  lastConnectionError: Error | undefined;

  private options(id: string): JobsOptions {
    return {
      jobId: id, attempts: this.settings.attempts, backoff: { type: 'exponential', delay: this.settings.backoffMs },
      removeOnComplete: { count: 10_000 }, removeOnFail: { count: 10_000 },
    };
  }

  /** One reconcile job per pipeline; `force` adds a rerun even when the day's job exists or ran. */
  async enqueueReconcile(date: string, pipeline?: string, force = false): Promise<Job<JobData>[]> {
    const rerun = force ? `rerun-${Date.now()}` : undefined;
    return Promise.all(this.pipelines(pipeline).map((p) =>
      this.queue.add('reconcile', { kind: 'reconcile', pipeline: p, date }, this.options(jobId('reconcile', p, date, rerun)))));
  }

  /**
   * Backfill jobs for the dates in [from, to] that have dirty cells, per pipeline. `dirtyDays` gives,
   * per date, when its newest dirty cell was recorded: that goes into the job id, so enqueueing the same
   * backlog twice is one job, while cells dirtied after a backfill ran make a new one.
   */
  async enqueueBackfill(from: string, to: string, pipeline: string | undefined, dirtyDays: (pipeline: string) => Promise<Map<string, number>>): Promise<Job<JobData>[]> {
    const dates = datesBetween(from, to);
    const jobs: Job<JobData>[] = [];
    for (const p of this.pipelines(pipeline)) {
      const dirty = await dirtyDays(p);
      for (const date of dates) {
        const version = dirty.get(date);
        if (version === undefined) continue;
        jobs.push(await this.queue.add('backfill', { kind: 'backfill', pipeline: p, date }, this.options(jobId('backfill', p, date, `d${version}`))));
      }
    }
    return jobs;
  }

  /** The nightly run: replay + reconcile of the previous date, every pipeline (cron in `timeZone`). */
  async schedule(cron = process.env.CONCORD_NIGHTLY_CRON ?? '0 2 * * *', timeZone = process.env.CONCORD_NIGHTLY_TZ ?? 'UTC'): Promise<void> {
    await this.queue.upsertJobScheduler('nightly-reconcile', { pattern: cron, tz: timeZone }, {
      name: 'nightly', data: { kind: 'nightly', timeZone }, opts: { attempts: this.settings.attempts, backoff: { type: 'exponential', delay: this.settings.backoffMs } },
    });
  }

  async status(date?: string): Promise<JobStatus[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'], 0, 1_000);
    const out: JobStatus[] = [];
    for (const j of jobs) {
      if (!j || (date !== undefined && j.data.date !== date)) continue;
      out.push({
        id: String(j.id), name: j.name, state: await j.getState(), data: j.data, attemptsMade: j.attemptsMade, progress: j.progress,
        ...(j.failedReason ? { failedReason: j.failedReason } : {}), ...(j.returnvalue !== undefined && j.returnvalue !== null ? { result: j.returnvalue } : {}),
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}
