import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { ConcordError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import { DayLock } from './day-lock.ts';
import { lockKey } from './job-ids.ts';
import type { StoreNights } from './missed-nights.ts';
import { catchUpWindow, planNightly, withStoreNights, type NightlyRun } from './nightly-catch-up.ts';
import { envNumber } from '../pipeline/env-number.ts';
import { ConcordJobs, JOB_DATA_KINDS, QUEUE, jobSettings, type JobData, type JobSettings } from './job-queue.ts';
import { RedisHealth, redisConnection } from './redis-connection.ts';
import { STREAM_WAIT_DEFAULTS, waitForStream, type StreamWaitSettings } from './stream-wait.ts';
import { registerWorker } from './worker-registry.ts';
import type { StreamBehind } from '../store/day-status.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';

export type JobProgress = (p: { done: number; total: number; what: string }) => Promise<void>;

/** The work behind the jobs (default: jobs/default-processors.ts: replay + reconcile, backfill). */
export interface JobRequest {
  date: string;
  pipeline: string;
  jobId: string;
  /** Reconcile: the enqueuer allowed an empty day (no archived event of the date). */
  allowEmpty?: boolean;
  /** 0 on the first run; >0 when an earlier attempt (failed or cut off by a lost connection) ran. */
  attempt?: number;
}

export interface JobProcessors {
  reconcile(req: JobRequest, progress: JobProgress): Promise<Record<string, unknown>>;
  backfill(req: { date: string; pipeline: string; jobId: string }, progress: JobProgress): Promise<Record<string, unknown>>;
  /**
   * The dates (of `dates`) a backfill of `pipeline` has work for: dirty cells, or archive files written
   * after the day's last reconcile (jobs/backfill-days.ts). The nightly run asks it for the date it
   * handles: a day reconciled before (its reconcile job then runs no more) still gets its late data.
   */
  pendingBackfills?(pipeline: string, dates: readonly string[]): Promise<Map<string, number>>;
  /**
   * The store's record of `pipeline`'s nights among `dates` (jobs/missed-nights.ts): which were reconciled,
   * which are still to do. The nightly run catches up from it (Redis' own record is lost with Redis' data)
   * and never enqueues a reconciled day again.
   */
  nights?(pipeline: string, dates: readonly string[]): Promise<StoreNights>;
  /** When the pipeline's results of a day are final (store/day-status.ts `dayFinalAt`): the nightly run waits for it. */
  dayFinalAt?(pipeline: string, date: string): number;
  /**
   * The store's stream watermark of `pipeline` when it is behind `date` (store/day-status.ts `streamBehind`,
   * the check of `reconcile --date`'s note); undefined when it is not, or no stream wrote a watermark. A
   * nightly reconcile job waits while it is behind (jobs/stream-wait.ts); every reconcile notes it.
   */
  streamBehind?(pipeline: string, date: string): Promise<StreamBehind | undefined>;
  /**
   * The store's retention (store/store-retention.ts), present when one is set: the nightly run enqueues
   * a prune job that runs it after the night's reconciles and backfills.
   */
  prune?(progress: JobProgress): Promise<Record<string, unknown>>;
}

export interface WorkerOptions extends JobSettings {
  concurrency?: number;
  /** When a day's lock is held by another job, try again after this long (default 2 s). */
  lockRetryMs?: number;
  lockTtlMs?: number;
  log?: (line: string) => void;
  /** The pipelines the nightly run fans out over (every pipeline of the worker's definitions). */
  pipelines?: readonly string[];
  /** Metrics of the process (serve/process-metrics.ts): job durations and outcomes by kind. */
  metrics?: ProcessMetrics;
  /**
   * The store this worker writes (`storeIdentity`): registered in Redis for the commands that enqueue
   * to compare with, and jobs enqueued for another store are refused.
   */
  store?: string;
  /** The archive the processors replay from, registered with the store (`jobs backfill` looks there). */
  archive?: string;
  /** The clock of the nightly run (a run started late catches up to the dates final by it); default Date.now. */
  now?: () => number;
  /** At most this many dates per nightly run when catching up (env CONCORD_NIGHTLY_CATCHUP_DAYS, default 31). */
  nightlyCatchUpDays?: number;
  /** How long a nightly reconcile waits for a stream behind its day, and how often it looks (jobs/stream-wait.ts; default 6 h, every 5 min). */
  streamWait?: StreamWaitSettings;
}

/**
 * A job worker. Every reconcile or backfill job takes the (pipeline, date) lock first, so two workers
 * never work on one day at once, whatever the job ids (a `--force` rerun, `all` next to one pipeline);
 * a job that finds the lock taken goes back to the delayed set (not a failure) and tries again later.
 * The processors are idempotent per job id (the store keys versions by it), and BullMQ never runs two
 * attempts of one job at once, so retries and restarts have their effect once.
 */
export function startWorker(processors: JobProcessors, options: WorkerOptions = {}): Worker<JobData> {
  const settings = jobSettings(options);
  const log = options.log ?? (() => undefined);
  // One line per change of Redis' reachability (lost / back), not one per reconnect attempt.
  const health = new RedisHealth(settings.redisUrl, log);
  const connection = redisConnection(settings.redisUrl);
  const locks = redisConnection(settings.redisUrl);
  health.watch(connection);
  health.watch(locks);
  const registration = options.store === undefined ? undefined : registerWorker(locks, settings.prefix, options.store, options.archive);
  let fanOut: ConcordJobs | undefined;
  const saidLost = new Set<string>();
  const sayLost = (id: string) => {
    if (saidLost.has(id)) return;
    saidLost.add(id);
    log(`${id}: Redis no longer holds this job (restarted without its data?): its steps go on, but its outcome cannot be recorded in the queue; see \`concord jobs status\` and enqueue its date again (the store keeps one version per job id)`);
  };
  // The night's prune waits for the night's reconciles and backfills (a prune never deletes a day it
  // would touch, but a day's versions are counted after its reconcile), as a locked day does: delayed, not failed.
  const runPrune = async (job: Job<JobData>, token?: string) => {
    if (!processors.prune) throw new UnrecoverableError(`job ${job.id}: this worker has no retention set (retentionDays / retentionVersions, env CONCORD_RETENTION_DAYS / CONCORD_RETENTION_VERSIONS): nothing to prune`);
    fanOut ??= new ConcordJobs(options.pipelines ?? [], settings);
    const waiting: string[] = [];
    for (const id of job.data.after ?? []) {
      const state = await fanOut.queue.getJobState(id);
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') waiting.push(id);
    }
    if (waiting.length > 0) {
      log(`${job.id}: waiting for ${waiting.join(', ')}; retrying in ${options.lockRetryMs ?? 2_000} ms`);
      await job.moveToDelayed(Date.now() + (options.lockRetryMs ?? 2_000), token);
      throw new DelayedError();
    }
    return processors.prune(async (p) => {
      await job.updateProgress({ ...p, percent: p.total === 0 ? 100 : Math.round((100 * p.done) / p.total) }).catch(() => undefined);
      log(`${job.id}: [${p.done}/${p.total}] ${p.what}`);
    }).catch((error: unknown) => {
      throw job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? lastAttemptFailed(error, job.attemptsMade + 1, 'prune', undefined, job.data.date ?? '?') : error;
    });
  };
  const run = async (job: Job<JobData>, token?: string) => {
    const { kind } = job.data;
    if (job.data.store !== undefined && options.store !== undefined && job.data.store !== options.store) {
      throw new UnrecoverableError(`job ${job.id} was enqueued for store ${job.data.store} but this worker writes ${options.store}: enqueue it again with the worker's --store, or run a worker with --store for that store`);
    }
    if (kind === 'nightly') {
      // The scheduled run: the date before the run's date in the scheduler's zone (and a date the run
      // before it skipped across a DST change), as per-pipeline jobs; a pipeline whose days stay open past
      // midnight (windows longer than the run's hour) takes the dates final by now.
      if (!options.pipelines?.length) throw new ConcordError('the nightly run has no pipelines to fan out over: start the worker with its definitions (`concord jobs worker --definitions FILE`)', { domain: 'user' });
      const at = job.timestamp + (job.opts.delay ?? 0);
      const finalAt = processors.dayFinalAt?.bind(processors);
      fanOut ??= new ConcordJobs(options.pipelines, settings);
      const through = await fanOut.nightlyThrough();
      const now = (options.now ?? Date.now)();
      const maxDays = options.nightlyCatchUpDays ?? envNumber('CONCORD_NIGHTLY_CATCHUP_DAYS', 31, { integer: true, min: 1, unit: 'days' });
      const groups = new Map<string, { dates: string[]; considered: string[]; pipelines: string[] }>(); // one per plan
      // Per pipeline, the dates its backfills look at: the run's own and every day of its window the store
      // holds a reconciled version of (late data of an earlier night, e.g. the day before yesterday's
      // events arriving today, is backfilled by the next run, not only when a missed day sits before it).
      const backfillDates = new Map<string, string[]>();
      for (const p of options.pipelines) {
        const run: NightlyRun = { at, now, timeZone: job.data.timeZone ?? 'UTC', ...(job.data.cron ? { cron: job.data.cron } : {}), ...(finalAt ? { finalAt: (d: string) => finalAt(p, d) } : {}), ...(through.has(p) ? { through: through.get(p)! } : {}), maxDays };
        const plan = planNightly(run);
        if (plan.leftOut.length > 0) {
          log(`nightly: ${p}: ${plan.leftOut.length} missed night(s) beyond CONCORD_NIGHTLY_CATCHUP_DAYS=${maxDays} not enqueued, ${plan.leftOut[0]} to ${plan.leftOut.at(-1)}: enqueue each with \`concord jobs enqueue --date D --pipeline ${shellWord(p)}\``);
        }
        const nights = processors.nights ? await processors.nights(p, catchUpWindow(run)) : undefined;
        const sp = nights ? withStoreNights(plan, nights) : { dates: plan.dates, considered: plan.dates, reconciled: [], fromStore: [] };
        if (sp.fromStore.length > 0) log(`nightly: ${p}: the store has no reconciled version of ${sp.fromStore.join(', ')} (stream rows and archived events there): enqueued with the night's`);
        if (sp.reconciled.length > 0) log(`nightly: ${p}: ${sp.reconciled.join(', ')} already reconciled in the store: not enqueued again`);
        const unarchived = nights?.unarchived.filter((d) => !sp.considered.includes(d)) ?? [];
        if (unarchived.length > 0) log(`nightly: ${p}: ${unarchived.join(', ')} not reconciled, but the archive holds no event of it: archive it, then \`concord jobs enqueue --date D --pipeline ${shellWord(p)}\``);
        backfillDates.set(p, [...new Set([...sp.considered, ...(nights?.done ?? [])])].sort());
        const key = `${sp.dates.join(' ')}|${sp.considered[0]}|${sp.considered.at(-1)}`;
        const group = groups.get(key) ?? { dates: sp.dates, considered: sp.considered, pipelines: [] };
        group.pipelines.push(p);
        groups.set(key, group);
      }
      const pending = processors.pendingBackfills?.bind(processors);
      const enqueued: string[] = [];
      const all: string[] = [];
      for (const { dates, considered, pipelines } of groups.values()) {
        all.push(...considered);
        // One group (every pipeline): one enqueue per date for all of them, as before.
        const of = groups.size === 1 ? [undefined] : pipelines;
        const jobs = (await Promise.all(of.flatMap((p) => dates.map((d) => fanOut!.enqueueReconcile(d, p, false, { waitForStream: true, ...(options.store === undefined ? {} : { store: options.store }) }))))).flat();
        if (dates.length > 0) log(`nightly: enqueued reconcile of ${dates.join(', ')}${groups.size === 1 ? '' : ` for ${pipelines.join(', ')}`} (${jobs.map((j) => j.id).join(', ')})`);
        // A day reconciled before (its reconcile job id ran already, or the store holds its version) with news since: a backfill redoes exactly those cells.
        const backfills = pending ? (await Promise.all(pipelines.map((p) => fanOut!.enqueueBackfill(backfillDates.get(p) ?? considered, p, pending, options.store)))).flat() : [];
        if (backfills.length > 0) {
          const days = [...new Set(backfills.map((j) => j.data.date!))].sort();
          log(`nightly: ${days.join(', ')} ${days.length === 1 ? 'has' : 'have'} dirty cells or archive files written after ${days.length === 1 ? 'its' : 'their'} last reconcile: enqueued ${backfills.map((j) => j.id).join(', ')}`);
        }
        enqueued.push(...[...jobs, ...backfills].map((j) => String(j.id)));
      }
      // Recorded once the night's jobs are enqueued: a run that failed before takes the same dates again.
      for (const { considered, pipelines } of groups.values()) for (const p of pipelines) await fanOut.recordNightly(p, considered.at(-1)!);
      const dates = [...new Set(all)].sort();
      if (processors.prune) {
        const prune = await fanOut.enqueuePrune(dates.at(-1)!, enqueued, options.store);
        log(`nightly: enqueued ${prune.id}: the store's retention, once ${enqueued.length} job${enqueued.length === 1 ? '' : 's'} of the night finished`);
        enqueued.push(String(prune.id));
      }
      const reconcileDates = [...new Set([...groups.values()].flatMap((g) => g.dates))].sort();
      // Per pipeline: a date one pipeline reconciled before may be another's to enqueue.
      const reconciled = Object.fromEntries([...groups.values()].flatMap((g) => g.pipelines.map((p) => [p, g.considered.filter((d) => !g.dates.includes(d))] as const)).filter(([, ds]) => ds.length > 0));
      return { date: dates.at(-1)!, ...(reconcileDates.length !== 1 ? { dates: reconcileDates } : {}), ...(Object.keys(reconciled).length > 0 ? { reconciled } : {}), enqueued };
    }
    if (kind === 'prune') return runPrune(job, token);
    const { pipeline, date } = job.data;
    if (!pipeline || !date) throw new Error(`job ${job.id} has no pipeline/date: ${JSON.stringify(job.data)}`);
    // A run starts without progress: BullMQ keeps what an earlier attempt reached (a `jobs retry` too), and
    // `jobs status` / `--wait` showed it as this run's until its first step. Kept for the "attempt N" line.
    const earlierProgress: unknown = job.progress;
    if (earlierProgress) await job.updateProgress(0).catch(() => undefined);
    // Before the day's lock: a job waiting for the stream holds neither the lock nor a worker's slot.
    const note = kind === 'reconcile' && processors.streamBehind
      ? await processors.streamBehind(pipeline, date)
        .then((behind) => waitForStream(job, token, behind, (options.now ?? Date.now)(), options.streamWait ?? STREAM_WAIT_DEFAULTS, log))
        .catch((error: unknown) => { throw error instanceof DelayedError ? error : jobFailure(job, error); })
      : undefined;
    const lock = new DayLock(locks, lockKey(settings.prefix, pipeline, date), options.lockTtlMs ?? 30_000);
    if (!(await lock.acquire())) {
      log(`${job.id}: ${pipeline} ${date} is locked by another job; retrying in ${options.lockRetryMs ?? 2_000} ms`);
      await job.moveToDelayed(Date.now() + (options.lockRetryMs ?? 2_000), token);
      throw new DelayedError();
    }
    try {
      // Progress is what `jobs status` shows, not part of the work: a Redis that came back without its
      // data (no persistence) no longer holds the job, and failing its update cut the job between two of
      // its steps in the store (a version published without its report). The steps go on.
      let gone = false;
      const progress: JobProgress = async (p) => {
        if (!gone) {
          await job.updateProgress({ ...p, percent: p.total === 0 ? 100 : Math.round((100 * p.done) / p.total) }).catch((error: unknown) => {
            if (!isMissingJob(error)) throw error;
            gone = true;
            sayLost(String(job.id));
          });
        }
        log(`${job.id}: [${p.done}/${p.total}] ${p.what}`);
      };
      // attemptsMade counts failed attempts; stalledCounter the runs cut off (e.g. Redis lost mid-job).
      const attempt = job.attemptsMade + (job.stalledCounter ?? 0);
      if (attempt > 0) log(`${job.id}: attempt ${attempt + 1}; the earlier one reached ${describeProgress(earlierProgress)} (see docs/operations.md: what a rerun redoes)`);
      const req = { date, pipeline, jobId: String(job.id), attempt, ...(job.data.allowEmpty ? { allowEmpty: true } : {}) };
      try {
        if (kind !== 'reconcile') return await processors.backfill(req, progress);
        const result = await processors.reconcile(req, progress);
        return note === undefined ? result : { ...result, note };
      } catch (error) {
        throw jobFailure(job, error);
      }
    } finally {
      await lock.release();
    }
  };
  const metrics = options.metrics;
  metrics?.declare({ jobKinds: JOB_DATA_KINDS });
  const processor = !metrics ? run : async (job: Job<JobData>, token?: string) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await run(job, token);
      metrics.job(job.data.kind, 'completed', seconds());
      return result;
    } catch (error) {
      // A job that found its day locked goes back to the delayed set: not a failure.
      metrics.job(job.data.kind, error instanceof DelayedError ? 'delayed' : 'failed', seconds());
      throw error;
    }
  };
  // A job whose worker died (its lock expired) is handed on as often as a failing job is retried: BullMQ's
  // default (once) failed a job for good on a second dead worker ("job stalled more than allowable limit").
  const worker = new Worker<JobData>(QUEUE, processor, {
    connection, prefix: settings.prefix, concurrency: options.concurrency ?? 1, lockDuration: 30_000, maxStalledCount: Math.max(1, settings.attempts),
  });
  worker.on('failed', (job, error) => log(`${job?.id ?? '?'} failed (attempt ${job?.attemptsMade ?? '?'}): ${error.message}`));
  // Connection errors: BullMQ reconnects, `health` logs the outage; jobs report their own failures. A
  // job that ended after Redis lost it cannot be marked completed or failed: say so (once per job).
  worker.on('error', (error) => {
    const id = missingJobId(error);
    if (id !== undefined) sayLost(id);
  });
  worker.on('closing', () => { health.closing = true; });
  worker.on('closed', () => {
    void (async () => {
      await registration?.stop();
      locks.disconnect();
      connection.disconnect();
      await fanOut?.close();
    })();
  });
  return worker;
}

/**
 * What a reconcile or backfill job's error becomes: retrying cannot fix bad input or unexplained
 * differences (fail at once, with the reason); a last attempt's failure says how to run it again.
 */
function jobFailure(job: Job<JobData>, error: unknown): unknown {
  if (error instanceof ConcordError && !error.retriable && error.domain !== 'external') return new UnrecoverableError(error.message);
  if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) return lastAttemptFailed(error, job.attemptsMade + 1, job.data.kind, job.data.pipeline, job.data.date ?? '?');
  return error;
}

/**
 * The failure of a job's last attempt, as `jobs status` and `enqueue --wait` show it: the reason alone
 * ("PostgreSQL does not answer: ...") left the operator to find how a job runs again once that is fixed.
 */
function lastAttemptFailed(error: unknown, attempts: number, kind: string, pipeline: string | undefined, date: string): ConcordError {
  const reason = error instanceof Error ? error.message : String(error);
  const retry = `concord jobs retry --date ${date}${pipeline === undefined ? '' : ` --pipeline ${shellWord(pipeline)}`}`;
  return new ConcordError(
    `${reason} (the ${kind} failed ${attempts} attempt${attempts === 1 ? '' : 's'}: once that is fixed, \`${retry}\` runs it again)`,
    { domain: error instanceof ConcordError ? error.domain : 'internal', cause: error });
}

/** BullMQ's error for a job whose key Redis no longer holds (`Missing key for job <id>. <command>`). */
function missingJobId(error: unknown): string | undefined {
  return error instanceof Error ? /^Missing key for job (\S+)\. /.exec(error.message)?.[1] : undefined;
}

function isMissingJob(error: unknown): boolean {
  return missingJobId(error) !== undefined;
}

function describeProgress(progress: unknown): string {
  const p = progress as { done?: number; total?: number; what?: string } | undefined;
  return p && typeof p === 'object' && p.total !== undefined ? `[${p.done}/${p.total}] ${p.what ?? ''}`.trim() : 'no step';
}
