import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConcordError } from '../pipeline/errors.ts';
import { jobId, type JobKind } from './job-ids.ts';
import { redisConnection } from './redis-connection.ts';
import { validateSchedule } from './schedule.ts';
import { registeredWorkers, type WorkerInfo } from './worker-registry.ts';
import { envNumber } from '../pipeline/env-number.ts';

export { redisConnection };

/** Every kind of job the queue holds (a worker's metrics list each from its start). */
export const JOB_DATA_KINDS = ['reconcile', 'backfill', 'nightly', 'prune'] as const satisfies readonly (JobKind | 'nightly' | 'prune')[];

export interface JobData {
  kind: (typeof JOB_DATA_KINDS)[number];
  pipeline?: string;
  date?: string;
  /** Nightly: the time zone whose previous date is reconciled. */
  timeZone?: string;
  /** Nightly: the schedule's cron, to find the date the run before reconciled (`nightlyDates`). */
  cron?: string;
  /** Reconcile: publish an empty version when the archive holds no event of the date (else the job refuses). */
  allowEmpty?: boolean;
  /** The store the enqueuer meant (`storeIdentity`): a worker writing another store refuses the job. */
  store?: string;
  /**
   * Reconcile, enqueued by the nightly run: waits while the store's stream watermark is behind the day
   * (jobs/stream-wait.ts), up to the worker's max wait. A job enqueued by hand does not wait.
   */
  waitForStream?: boolean;
  /** Set by the worker while the job waits for the stream: its first wait (the worker's clock) and the checks so far. */
  streamWait?: { since: number; checks: number };
  /** Prune: the jobs it runs after (the night's reconciles and backfills): it waits while any is still to run. */
  after?: string[];
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
    attempts: overrides.attempts ?? envNumber('CONCORD_JOB_ATTEMPTS', 5, { integer: true, min: 1, unit: 'attempts' }),
    backoffMs: overrides.backoffMs ?? envNumber('CONCORD_JOB_BACKOFF_MS', 5_000, { unit: 'milliseconds' }),
  };
}

export const QUEUE = 'concord-jobs';


export interface JobStatus {
  id: string;
  name: string;
  state: string;
  data: JobData;
  attemptsMade: number;
  /** Runs started, the one going on included: also those a dead worker cut off (stalled), which attemptsMade misses. */
  attemptsStarted?: number;
  progress: unknown;
  failedReason?: string;
  result?: unknown;
}

/**
 * How many times a job ran, as the worker counts them ("attempt N"): the runs started, so a run a dead
 * worker cut off counts (BullMQ's attemptsMade counts failed and completed ones only). A job waiting for
 * the stream is started again at each check (jobs/stream-wait.ts): those starts are no attempts.
 */
export function attemptsOf(j: { attemptsMade: number; attemptsStarted?: number; data?: Pick<JobData, 'streamWait'> }): number {
  return Math.max(j.attemptsMade, (j.attemptsStarted ?? 0) - (j.data?.streamWait?.checks ?? 0));
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
    // A lost Redis connection is re-emitted as 'error'; without a listener Node would throw. ioredis
    // reconnects by itself and queued commands run then; callers see errors on the calls that fail.
    this.connection = redisConnection(this.settings.redisUrl, (error) => { this.lastConnectionError = error; });
    this.queue = new Queue<JobData>(QUEUE, { connection: this.connection, prefix: this.settings.prefix });
    this.queue.on('error', (error) => { this.lastConnectionError = error; });
  }

  /** The pipelines `name` means (`all` or none: every one); an unknown name is a user error. */
  pipelineList(name: string | undefined): readonly string[] {
    return this.pipelines(name);
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

  /**
   * One reconcile job per pipeline; `force` adds a rerun even when the day's job exists or ran.
   * `allowEmpty`: a date without archived events publishes an empty version instead of failing.
   * `store`: the store meant (see `storeIdentity`), checked by the worker. `waitForStream`: the nightly
   * run's jobs wait for a stream behind the day (jobs/stream-wait.ts).
   */
  async enqueueReconcile(date: string, pipeline?: string, force = false, extra: { allowEmpty?: boolean; store?: string; waitForStream?: boolean } = {}): Promise<Job<JobData>[]> {
    const rerun = force ? `rerun-${Date.now()}` : undefined;
    const data = (p: string): JobData => ({
      kind: 'reconcile', pipeline: p, date, ...(extra.allowEmpty ? { allowEmpty: true } : {}), ...(extra.store ? { store: extra.store } : {}),
      ...(extra.waitForStream ? { waitForStream: true } : {}),
    });
    return Promise.all(this.pipelines(pipeline).map((p) => this.queue.add('reconcile', data(p), this.options(jobId('reconcile', p, date, rerun)))));
  }

  /**
   * The jobs of `ids` as they are in the queue now: an id enqueued again is the job that already
   * exists (BullMQ keeps ids unique), and its state says whether the new request changed anything.
   */
  async current(ids: readonly string[]): Promise<JobStatus[]> {
    const out: JobStatus[] = [];
    for (const id of ids) {
      const j = await this.queue.getJob(id);
      if (j) out.push(await describe(this.queue, j));
    }
    return out;
  }

  /**
   * Moves the failed jobs of `date` (one pipeline, or all) back to waiting: the same job ids run again
   * (the store keys versions by job id, so a retry whose earlier attempt had published changes nothing).
   * The night's prune of `date` (no pipeline: every one) is retried with all pipelines only. A reconcile
   * whose day a later job has since reconciled is not retried: `superseded` is told which job did it.
   */
  async retryFailed(date: string, pipeline?: string, superseded?: (id: string, by: Job<JobData>) => void): Promise<string[]> {
    const names = new Set(this.pipelines(pipeline));
    const everyPipeline = pipeline === undefined || pipeline === 'all';
    const failed = await this.queue.getJobs(['failed'], 0, 10_000);
    const completed = (await this.queue.getJobs(['completed'], 0, 10_000)).filter((c) => c && c.data.kind === 'reconcile' && c.data.date === date);
    const retried: string[] = [];
    for (const j of failed) {
      if (!j || j.data.date !== date) continue;
      if (j.data.kind === 'prune' ? !everyPipeline : !names.has(j.data.pipeline ?? '')) continue;
      // A reconcile a later job of its day completed since (a `--force` rerun) is left failed: run again as it
      // was enqueued it fails on what the rerun fixed (--allow-empty), or publishes over the rerun's version.
      const since = j.data.kind !== 'reconcile' ? undefined
        : completed.filter((c) => c.data.pipeline === j.data.pipeline && (c.finishedOn ?? 0) > (j.finishedOn ?? 0)).sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))[0];
      if (since !== undefined) {
        superseded?.(String(j.id), since);
        continue;
      }
      await j.retry('failed');
      retried.push(String(j.id));
    }
    return retried.sort();
  }

  /**
   * Backfill jobs for `dates` that have work, per pipeline. `pending` gives, per date with dirty cells or
   * archive files written after its last reconcile (jobs/backfill-days.ts), the instant of its newest
   * news: that goes into the job id, so enqueueing the same backlog twice is one job, while news after a
   * backfill ran makes a new one. The dates are the caller's, checked there (`jobs backfill`: its
   * --from/--to by daySpanFlags; the nightly run: the dates it planned): taking [from, to] and checking
   * both again here parsed each end twice, a second check that could only repeat the first.
   */
  async enqueueBackfill(dates: readonly string[], pipeline: string | undefined, pending: (pipeline: string, dates: readonly string[]) => Promise<Map<string, number>>, store?: string): Promise<Job<JobData>[]> {
    const jobs: Job<JobData>[] = [];
    for (const p of this.pipelines(pipeline)) {
      const dirty = await pending(p, dates);
      for (const date of dates) {
        const version = dirty.get(date);
        if (version === undefined) continue;
        jobs.push(await this.queue.add('backfill', { kind: 'backfill', pipeline: p, date, ...(store ? { store } : {}) }, this.options(jobId('backfill', p, date, `d${version}`))));
      }
    }
    return jobs;
  }

  /**
   * The night's prune of the store's retention (jobs/job-worker.ts), once per nightly date: it runs after
   * the jobs of `after` (the night's reconciles and backfills) have finished.
   */
  async enqueuePrune(date: string, after: readonly string[], store?: string): Promise<Job<JobData>> {
    return this.queue.add('prune', { kind: 'prune', date, after: [...after], ...(store ? { store } : {}) }, this.options(`prune__${date}`));
  }

  /**
   * The nightly run: replay + reconcile of the previous date, every pipeline (cron in `timeZone`).
   * A cron or zone that cannot run is refused (ConfigError naming --cron / --tz) before anything is stored.
   */
  async schedule(cron = process.env.CONCORD_NIGHTLY_CRON ?? '0 2 * * *', timeZone = process.env.CONCORD_NIGHTLY_TZ ?? 'UTC'): Promise<void> {
    validateSchedule(cron, timeZone);
    await this.queue.upsertJobScheduler(NIGHTLY, { pattern: cron, tz: timeZone }, {
      name: 'nightly', data: { kind: 'nightly', timeZone, cron }, opts: { attempts: this.settings.attempts, backoff: { type: 'exponential', delay: this.settings.backoffMs } },
    });
  }

  /**
   * The newest date the nightly runs enqueued, per pipeline (`<prefix>:concord-jobs:nightly-through`, a
   * hash): where the next run starts, so nights no worker ran (an outage) are caught up
   * (jobs/nightly-catch-up.ts). BullMQ's `obliterate` leaves it: `forgetNightly` removes it.
   */
  async nightlyThrough(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.connection.hgetall(this.queue.toKey('nightly-through'))));
  }

  /** Records that the nightly run enqueued `pipeline`'s dates up to `date` (never moves back). */
  async recordNightly(pipeline: string, date: string): Promise<void> {
    const key = this.queue.toKey('nightly-through');
    const before = await this.connection.hget(key, pipeline);
    if (before === null || before < date) await this.connection.hset(key, pipeline, date);
  }

  /** Forgets what the nightly runs enqueued (the next run takes its own night only), with the queue's other keys gone. */
  async forgetNightly(): Promise<void> {
    await this.connection.del(this.queue.toKey('nightly-through'));
  }

  /** Removes the nightly schedule; false when there was none. Jobs it already enqueued stay. */
  async unschedule(): Promise<boolean> {
    return this.queue.removeJobScheduler(NIGHTLY);
  }

  /** The workers alive on this queue prefix, with the store each writes. */
  async workers(): Promise<WorkerInfo[]> {
    return registeredWorkers(this.connection, this.settings.prefix);
  }

  async status(date?: string): Promise<JobStatus[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'], 0, 1_000);
    const out: JobStatus[] = [];
    for (const j of jobs) {
      if (!j || (date !== undefined && j.data.date !== date)) continue;
      out.push(await describe(this.queue, j));
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
  }
}

/** The id of the nightly job scheduler (one per queue prefix). */
export const NIGHTLY = 'nightly-reconcile';

/**
 * The job with its state. The state is read after the job, so a job that finished in between shows a
 * final state with what the job held before: no result, or the reason of an earlier attempt (which
 * `--wait` then printed as the job's failure). A finished job is read again, after its state.
 */
async function describe(queue: Queue<JobData>, fetched: Job<JobData>): Promise<JobStatus> {
  const state = await fetched.getState();
  const j = (state === 'failed' || state === 'completed' ? await queue.getJob(String(fetched.id)) : undefined) ?? fetched;
  return {
    id: String(j.id), name: j.name, state, data: j.data, attemptsMade: j.attemptsMade, attemptsStarted: j.attemptsStarted ?? 0, progress: j.progress,
    ...(j.failedReason ? { failedReason: j.failedReason } : {}), ...(j.returnvalue !== undefined && j.returnvalue !== null ? { result: j.returnvalue } : {}),
  };
}
