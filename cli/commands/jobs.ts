import { resolve } from 'node:path';
import { ConfigError } from '../../pipeline/errors.ts';
import { dayRange } from '../../reconcile/reconcile-day.ts';
import { backfillDays } from '../../jobs/backfill-days.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { ConcordJobs, NIGHTLY, QUEUE, jobSettings, type JobStatus } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { whenWrapperExits } from '../../jobs/launcher-watch.ts';
import { RedisUnreachableError, probeRedis, redactRedisUrl } from '../../jobs/redis-connection.ts';
import { validateSchedule } from '../../jobs/schedule.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';
import { openStore } from '../../store/open-store.ts';
import { metricsFlags, metricsFromFlags, metricsOptions } from '../../serve/process-metrics.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { logFlags, logOptions, processLog } from '../logging.ts';
import type { Registry } from '../../pipeline/registry.ts';
import { loadRegistry, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';

/** Each subcommand's own options: another one given is refused with whose option it is (not ignored). */
const SUB_FLAGS: Record<string, readonly string[]> = {
  worker: ['archive', 'store', 'concurrency', 'report-dir', ...Object.keys(metricsFlags), ...Object.keys(logFlags), ...Object.keys(timingFlags)],
  schedule: ['cron', 'tz'],
  unschedule: [],
  enqueue: ['date', 'pipeline', 'force', 'allow-empty', 'wait', 'store'],
  retry: ['date', 'pipeline'],
  backfill: ['from', 'to', 'pipeline', 'store', 'archive'],
  status: ['date'],
};
const SUB = Object.keys(SUB_FLAGS);

function checkFlags(sub: string, v: Values): void {
  for (const [flag, value] of Object.entries(v)) {
    if (value === undefined || flag === 'do' || flag === 'definitions' || SUB_FLAGS[sub]!.includes(flag)) continue;
    const owners = SUB.filter((s) => SUB_FLAGS[s]!.includes(flag));
    throw new ConfigError(`--${flag} is an option of jobs ${owners.join(', jobs ')}, not of jobs ${sub}: leave it out (\`concord jobs --help\` lists the options)`);
  }
}
type Values = Record<string, string | boolean | undefined>;

export const jobsCommand: CommandSpec = {
  name: 'jobs',
  summary: 'BullMQ jobs: nightly replay + reconcile, backfill of dirty cells, workers, status',
  usage: 'concord jobs worker|schedule|unschedule|enqueue|retry|backfill|status [options]',
  leadingWordAs: 'do',
  options: [
    '--do SUBCOMMAND            what to do (may also be given as the first word: `concord jobs status`):',
    '  worker                   run jobs until SIGINT/SIGTERM (the current job finishes; a second signal stops at once)',
    '                           --archive DIR (required), --store URL, --concurrency N (1), --report-dir DIR, --metrics-port N,',
    '                           --log-format text|json, --log-level L',
    '  schedule                 nightly replay + reconcile of the previous date: --cron "0 2 * * *" --tz UTC',
    '  unschedule               remove the nightly schedule (jobs it already enqueued stay)',
    '  enqueue                  reconcile --date D [--pipeline NAME|all] [--force] [--allow-empty] [--wait] [--store URL]',
    '  retry                    run the failed jobs of --date D [--pipeline NAME|all] again (same job ids)',
    '  backfill                 --from D1 --to D2 [--pipeline P] [--store URL] [--archive DIR]: one job per (pipeline,',
    '                           date) with dirty cells or archive files written after the day\'s last reconcile',
    '  status                   jobs with state, attempts, progress, result or failure reason [--date D]; workers and schedule',
    '--date YYYY-MM-DD          the day (enqueue, retry, status)',
    '--pipeline NAME|all        one pipeline or all (default all)',
    '--force                    enqueue: a deliberate rerun, even when the day\'s job ran or failed (a new job id)',
    '--allow-empty              enqueue: reconcile even when the archive holds no event of the date (a day',
    '                           without traffic); without it such a job fails: "no archived events for D in DIR"',
    '--wait                     enqueue: wait for the jobs, print each result; exit 0 if all completed, 1 if not',
    '--from D1 --to D2          backfill: the dates, inclusive',
    '--cron EXPR                schedule: five cron fields (env CONCORD_NIGHTLY_CRON, default "0 2 * * *")',
    '--tz ZONE                  schedule: IANA time zone of the cron (env CONCORD_NIGHTLY_TZ, default UTC)',
    '--archive DIR              worker: the Parquet archive (env CONCORD_ARCHIVE_DIR); backfill: where to look for',
    '                           files added after a reconcile (default: the archive the workers registered)',
    '--concurrency N            worker: jobs at once (default 1)',
    '--report-dir DIR           worker: reports of reconcile jobs (default .concord/reports)',
    ...metricsOptions.map((line) => line.replace('--metrics-port N          ', '--metrics-port N (worker) ')),
    ...logOptions.map((line) => line.replace(/^(--log-\S+ \S) {9}/, '$1 (worker)')),
    ...storeOptions,
    '                           The worker records its store in Redis; enqueue --store and backfill refuse another one.',
    '                           Redis: env REDIS_URL (default redis://127.0.0.1:6379; a command waits',
    '                           CONCORD_REDIS_TIMEOUT_MS (3000) for it); queue prefix CONCORD_QUEUE_PREFIX (concord);',
    '                           retries CONCORD_JOB_ATTEMPTS (5), CONCORD_JOB_BACKOFF_MS (5000)',
    ...timingOptions,
  ],
  flags: {
    do: { type: 'string' }, date: { type: 'string' }, pipeline: { type: 'string' }, force: { type: 'boolean' }, wait: { type: 'boolean' },
    'allow-empty': { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' }, cron: { type: 'string' }, tz: { type: 'string' },
    archive: { type: 'string' }, 'report-dir': { type: 'string' }, concurrency: { type: 'string' }, ...storeFlags, ...metricsFlags, ...logFlags, ...timingFlags,
  },
  async run(v) {
    const sub = String(v.do ?? '');
    if (!SUB.includes(sub)) throw new ConfigError(`say what to do: concord jobs ${SUB.join('|')}\nRun \`concord jobs --help\` for the options.`);
    checkFlags(sub, v);
    const settings = jobSettings();
    try {
      return await runSub(sub, v, settings.redisUrl);
    } catch (error) {
      // Redis down is neither a bug nor bad input: one line, no stack, exit 1.
      if (!(error instanceof RedisUnreachableError)) throw error;
      process.stderr.write(`concord jobs: ${error.message}\n`);
      return 1;
    }
  },
};

async function runSub(sub: string, v: Values, redisUrl: string): Promise<number> {
  // What can be checked without Redis is checked first.
  if (sub === 'schedule') validateSchedule(stringOr(v.cron, process.env.CONCORD_NIGHTLY_CRON ?? '0 2 * * *'), stringOr(v.tz, process.env.CONCORD_NIGHTLY_TZ ?? 'UTC'));
  if (sub === 'enqueue' || sub === 'retry') {
    if (v.date === undefined) throw new ConfigError(`jobs ${sub} needs --date YYYY-MM-DD`);
    dayRange(String(v.date));
  }
  if (sub === 'backfill' && (v.from === undefined || v.to === undefined)) throw new ConfigError('jobs backfill needs --from D1 --to D2 (YYYY-MM-DD)');
  const registry = await loadRegistry(v);
  await probeRedis(redisUrl);
  if (sub === 'worker') return runWorker(v, registry);
  const jobs = new ConcordJobs(registry.pipelines.map((p) => p.name));
  try {
    if (sub === 'schedule') {
      await jobs.schedule(v.cron === undefined ? undefined : String(v.cron), v.tz === undefined ? undefined : String(v.tz));
      const s = await jobs.queue.getJobScheduler(NIGHTLY);
      process.stdout.write(`nightly reconcile scheduled: ${s?.pattern ?? '?'} (${s?.tz ?? 'UTC'}), next run ${s?.next ? new Date(s.next).toISOString() : '?'}\n`);
      return 0;
    }
    if (sub === 'unschedule') {
      const s = await jobs.queue.getJobScheduler(NIGHTLY);
      const removed = await jobs.unschedule();
      process.stdout.write(removed ? `nightly reconcile unscheduled (was ${s?.pattern ?? '?'} ${s?.tz ?? 'UTC'})\n` : `no nightly schedule on queue prefix ${jobs.settings.prefix}: nothing to remove\n`);
      return 0;
    }
    if (sub === 'enqueue') return await enqueue(jobs, v);
    if (sub === 'retry') {
      const retried = await jobs.retryFailed(String(v.date), v.pipeline === undefined ? undefined : String(v.pipeline));
      process.stdout.write(retried.length === 0
        ? `no failed job of ${String(v.date)} to retry (\`concord jobs status --date ${String(v.date)}\` shows its jobs)\n`
        : retried.map((id) => `${id} retried: waiting\n`).join(''));
      return 0;
    }
    if (sub === 'backfill') {
      const store = await agreedStore(jobs, v, true);
      const archiveDir = await backfillArchive(jobs, v);
      const opened = await openStore(storeUrl(v), { registry });
      try {
        const startedAt = Date.now();
        const pending = (p: string, dates: readonly string[]) => backfillDays(opened, registry.pipeline(p), dates, archiveDir);
        const added = await jobs.enqueueBackfill(String(v.from), String(v.to), v.pipeline === undefined ? undefined : String(v.pipeline), pending, store);
        if (added.length === 0) {
          process.stdout.write(archiveDir === undefined ? 'no dirty cells in that range: nothing to backfill\n'
            : 'no dirty cells and no archive files written after a reconcile in that range: nothing to backfill\n');
        }
        // A backfill id exists already when the same dirty cells were enqueued before: say what became of it.
        let failedLeft = 0;
        for (const earlier of await jobs.current(added.map((j) => String(j.id)))) {
          const before = (await jobs.queue.getJob(earlier.id))!.timestamp < startedAt;
          if (before && earlier.state === 'failed') {
            failedLeft++;
            process.stdout.write(`${earlier.id} failed earlier (attempts=${earlier.attemptsMade}): ${earlier.failedReason ?? 'no reason recorded'}\n`);
            process.stderr.write(`concord jobs: ${earlier.id} was not enqueued again: a job id runs once. Retry it with \`concord jobs retry --date ${earlier.data.date ?? '?'} --pipeline ${earlier.data.pipeline ?? '?'}\`\n`);
          } else {
            process.stdout.write(`${earlier.id} ${earlier.state}${before ? ' (already enqueued)' : ''}\n`);
          }
        }
        return failedLeft > 0 ? 1 : 0;
      } finally {
        await opened.close();
      }
    }
    for (const j of await jobs.status(v.date === undefined ? undefined : String(v.date))) process.stdout.write(`${statusLine(j)}\n`);
    const workers = await jobs.workers();
    const schedule = await jobs.queue.getJobScheduler(NIGHTLY);
    process.stderr.write(`queue prefix ${jobs.settings.prefix} at ${redactRedisUrl(jobs.settings.redisUrl)}: ${workers.length} worker(s)${workers.map((w) => `; ${w.host}:${w.pid} writes ${w.store}`).join('')}; ` +
      `nightly ${schedule ? `${schedule.pattern} (${schedule.tz ?? 'UTC'})` : 'not scheduled'}\n`);
    return 0;
  } finally {
    await jobs.close();
  }
}

function statusLine(j: JobStatus): string {
  const why = j.failedReason ? ` — failed: ${j.failedReason}` : '';
  const result = j.result ? ` ${JSON.stringify(j.result)}` : '';
  const progress = j.state === 'active' && j.progress ? ` ${JSON.stringify(j.progress)}` : '';
  return `${j.id} ${j.state} attempts=${j.attemptsMade}${progress}${result}${why}`;
}

/**
 * Enqueues reconcile jobs and says what became of each: a new job waits; a job id that exists already
 * is not enqueued again (BullMQ keeps ids unique), so a failed or completed one is reported with how to
 * run it again. Exit 1 when a failed job was left as it is.
 */
async function enqueue(jobs: ConcordJobs, v: Values): Promise<number> {
  const date = String(v.date);
  const pipeline = v.pipeline === undefined ? undefined : String(v.pipeline);
  const explicitStore = v.store !== undefined || process.env.CONCORD_STORE !== undefined;
  const store = explicitStore ? await agreedStore(jobs, v, false) : undefined;
  const force = v.force === true;
  const before = force ? [] : await jobs.current(jobs.pipelineList(pipeline).map((p) => jobId('reconcile', p, date)));
  const added = await jobs.enqueueReconcile(date, pipeline, force, { ...(v['allow-empty'] ? { allowEmpty: true } : {}), ...(store ? { store } : {}) });
  let failedLeft = 0;
  const toWait: string[] = [];
  const select = `--date ${date}${pipeline ? ` --pipeline ${pipeline}` : ''}`;
  for (const job of added) {
    const id = String(job.id);
    const earlier = before.find((b) => b.id === id);
    if (earlier?.state === 'failed') {
      failedLeft++;
      process.stdout.write(`${id} failed earlier (attempts=${earlier.attemptsMade}): ${earlier.failedReason ?? 'no reason recorded'}\n`);
      process.stderr.write(`concord jobs: ${id} was not enqueued again: a job id runs once. Retry it with \`concord jobs retry ${select}\`, or run a new job with \`concord jobs enqueue ${select} --force\`\n`);
    } else if (earlier?.state === 'completed') {
      process.stdout.write(`${id} completed earlier: not run again (\`concord jobs enqueue ${select} --force\` reruns it)${earlier.result ? ` ${JSON.stringify(earlier.result)}` : ''}\n`);
    } else {
      process.stdout.write(`${id} ${earlier ? `${earlier.state} (already enqueued)` : await job.getState()}\n`);
      toWait.push(id);
    }
  }
  if (!v.wait) return failedLeft > 0 ? 1 : 0;
  const failed = await waitFor(jobs, toWait);
  return failed + failedLeft > 0 ? 1 : 0;
}

/**
 * The store the command means, checked against the workers registered on the queue: they must agree,
 * or the command refuses (a backfill computed from one store and run against another is wrong twice).
 */
async function agreedStore(jobs: ConcordJobs, v: Values, usesDefault: boolean): Promise<string> {
  const mine = storeIdentity(storeUrl(v));
  const workers = await jobs.workers();
  const theirs = [...new Set(workers.map((w) => w.store))];
  const named = v.store !== undefined ? 'names' : process.env.CONCORD_STORE !== undefined ? 'names (env CONCORD_STORE)' : usesDefault ? 'would use (no --store given)' : 'names';
  if (theirs.some((s) => s !== mine)) {
    throw new ConfigError(
      `the worker${theirs.length > 1 ? 's' : ''} on queue prefix ${jobs.settings.prefix} write${theirs.length > 1 ? '' : 's'} ${theirs.join(' and ')}, but this command ${named} ${mine}: ` +
        'pass --store with the workers\' store (or env CONCORD_STORE), or run a worker with this store on another queue prefix (CONCORD_QUEUE_PREFIX)');
  }
  if (workers.length === 0) process.stderr.write(`concord jobs: note: no worker runs on queue prefix ${jobs.settings.prefix}; the jobs wait for one that writes ${mine}\n`);
  return mine;
}

/**
 * The archive `jobs backfill` looks in for files written after a day's last reconcile: --archive (or
 * env CONCORD_ARCHIVE_DIR), else the one the workers registered. None known: dirty cells only, said so.
 */
async function backfillArchive(jobs: ConcordJobs, v: Values): Promise<string | undefined> {
  const given = v.archive ?? process.env.CONCORD_ARCHIVE_DIR;
  if (given !== undefined && String(given) !== '') return resolve(String(given));
  const registered = [...new Set((await jobs.workers()).flatMap((w) => (w.archive ? [w.archive] : [])))];
  if (registered.length > 1) {
    throw new ConfigError(`the workers on queue prefix ${jobs.settings.prefix} read different archives (${registered.join(' and ')}): say which with --archive DIR`);
  }
  if (registered.length === 0) {
    process.stderr.write('concord jobs: note: no --archive given and no worker registered one: only dirty cells are looked for, not archive files written after a reconcile\n');
  }
  return registered[0];
}

/**
 * Waits for each job to finish (completed, or failed after its last attempt) and prints its result;
 * returns how many failed. It polls the job's state: QueueEvents can miss a job that finishes while
 * its event stream is being set up, and a wait must not hang.
 */
async function waitFor(jobs: ConcordJobs, ids: string[], pollMs = 500): Promise<number> {
  let failed = 0;
  for (const id of ids) {
    for (;;) {
      const [job] = await jobs.current([id]);
      if (!job) {
        failed++;
        process.stdout.write(`${id} is gone from the queue (removed?): its outcome is unknown\n`);
        break;
      }
      if (job.state === 'completed') {
        process.stdout.write(`${id} completed ${JSON.stringify(job.result ?? null)}\n`);
        break;
      }
      if (job.state === 'failed') {
        failed++;
        process.stdout.write(`${id} failed: ${job.failedReason ?? 'no reason recorded'}\n`);
        break;
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  return failed;
}

async function runWorker(v: Values, registry: Registry): Promise<number> {
  const archiveDir = String(v.archive ?? process.env.CONCORD_ARCHIVE_DIR ?? '');
  if (archiveDir === '') throw new ConfigError('jobs worker needs --archive DIR (or env CONCORD_ARCHIVE_DIR): the archive days are replayed from');
  const concurrency = Number(v.concurrency ?? 1);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`--concurrency "${String(v.concurrency)}": use a whole number >= 1`);
  const processLogger = processLog(v, 'concord-jobs');
  // Every line of the worker goes through the process log (text or JSON); `jobs: ` keeps the text lines as they were.
  const sink = processLogger.lineSink();
  const log = (line: string) => sink(`jobs: ${line}`);
  const served = await metricsFromFlags(v, sink);
  const store = await openStore(storeUrl(v), { registry }).catch(async (error: unknown) => { await served?.close(); throw error; });
  const settings = jobSettings();
  const identity = storeIdentity(storeUrl(v));
  const worker = startWorker(defaultProcessors({ store, registry, archiveDir, reportDir: String(v['report-dir'] ?? '.concord/reports'), timing: loadSettings(v) }), {
    concurrency, log, pipelines: registry.pipelines.map((p) => p.name), store: identity, archive: archiveDir,
    ...(served ? { metrics: served.metrics } : {}),
  });
  log(`worker started (redis ${redactRedisUrl(settings.redisUrl)}, queue prefix ${settings.prefix}, queue ${QUEUE}, store ${identity}, archive ${archiveDir}); ` +
    'SIGINT/SIGTERM stops after the current job');
  let unwatch = () => undefined as void;
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals, why: string = signal) => {
      if (++signals === 1) {
        log(`${why}: stopping after the current job (a second signal stops at once; the job is then retried by a worker)`);
        resolve();
      } else {
        log(`${signal} again: stopping now`);
        process.exit(130);
      }
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    // npm's shell does not pass a SIGTERM on: the wrapper's exit counts as one (jobs/launcher-watch.ts).
    unwatch = whenWrapperExits((w) => onSignal('SIGTERM', `its launcher ${w.command.split(' ').slice(0, 3).join(' ')} (pid ${w.pid}) exited`));
  });
  unwatch();
  await worker.close();
  await store.close();
  await served?.close();
  log('worker stopped');
  processLogger.flush();
  return 0;
}

function stringOr(value: string | boolean | undefined, fallback: string): string {
  return value === undefined ? fallback : String(value);
}
