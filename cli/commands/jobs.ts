import { ConfigError } from '../../pipeline/errors.ts';
import { dayRange } from '../../reconcile/reconcile-day.ts';
import { attemptsOf, ConcordJobs, NIGHTLY, jobSettings, type JobStatus } from '../../jobs/job-queue.ts';
import { RedisUnreachableError, probeRedis } from '../../jobs/redis-connection.ts';
import { redact } from '../../store/sql-driver.ts';
import { shellWord } from '../../pipeline/names.ts';
import { describeRunTime, validateSchedule } from '../../jobs/schedule.ts';
import { metricsFlags, metricsOptions } from '../../serve/process-metrics.ts';
import type { CommandSpec, FlagValues } from '../args.ts';
import { logFlags, logOptions } from '../logging.ts';
import { daySpanFlags } from '../day-span-flags.ts';
import { nightlyWaitFlags, nightlyWaitOptions } from '../nightly-wait-config.ts';
import { backfill, enqueue, waitDeadline, waitFor } from './jobs-enqueue.ts';
import { runWorker } from './jobs-worker.ts';
import { loadRegistry, storeFlags, storeOptions, timingFlags, timingOptions } from './shared.ts';

/** Each subcommand's own options: another one given is refused with whose option it is (not ignored). */
const SUB_FLAGS: Record<string, readonly string[]> = {
  worker: ['archive', 'store', 'concurrency', 'report-dir', 'keep-days', 'keep-versions', ...Object.keys(nightlyWaitFlags), ...Object.keys(metricsFlags), ...Object.keys(logFlags), ...Object.keys(timingFlags)],
  schedule: ['cron', 'tz'],
  unschedule: [],
  enqueue: ['date', 'pipeline', 'force', 'allow-empty', 'wait', 'timeout', 'store'],
  retry: ['date', 'pipeline', 'wait', 'timeout'],
  backfill: ['from', 'to', 'pipeline', 'store', 'archive'],
  status: ['date'],
};
const SUB = Object.keys(SUB_FLAGS);

function checkFlags(sub: string, v: FlagValues): void {
  for (const [flag, value] of Object.entries(v)) {
    if (value === undefined || flag === 'do' || flag === 'definitions' || SUB_FLAGS[sub]!.includes(flag)) continue;
    const owners = SUB.filter((s) => SUB_FLAGS[s]!.includes(flag));
    throw new ConfigError(`--${flag} is an option of jobs ${owners.join(', jobs ')}, not of jobs ${sub}: leave it out (\`concord jobs --help\` lists the options)`);
  }
}

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
    '  enqueue                  reconcile --date D [--pipeline NAME|all] [--force] [--allow-empty] [--wait [--timeout D]] [--store URL]',
    '  retry                    run the failed jobs of --date D [--pipeline NAME|all] again (same job ids) [--wait [--timeout D]]',
    '  backfill                 --from D1 --to D2 [--pipeline P] [--store URL] [--archive DIR]: one job per (pipeline,',
    '                           date) with dirty cells or archive files written after the day\'s last reconcile',
    '  status                   jobs with state, attempts, progress, result or failure reason [--date D]; workers and schedule',
    '--date YYYY-MM-DD          the day (enqueue, retry, status)',
    '--pipeline NAME|all        one pipeline or all (default all)',
    '--force                    enqueue: a deliberate rerun, even when the day\'s job ran or failed (a new job id)',
    '--allow-empty              enqueue: reconcile even when the archive holds no event of the date (a day',
    '                           without traffic); without it such a job fails: "no archived events for D in DIR"',
    '--wait                     enqueue, retry: wait for the jobs (their state and progress on stderr as they change), print',
    '                           each result; exit 0 if all completed, 1 if not',
    '--timeout D                enqueue/retry --wait: stop waiting after D (e.g. 30m; exit 1; the jobs go on). Default: no limit',
    '--from D1 --to D2          backfill: the dates, inclusive',
    '--cron EXPR                schedule: five cron fields (env CONCORD_NIGHTLY_CRON, default "0 2 * * *")',
    '--tz ZONE                  schedule: IANA time zone of the cron (env CONCORD_NIGHTLY_TZ, default UTC)',
    '                           Each run also takes the nights missed while no worker ran (at most',
    '                           CONCORD_NIGHTLY_CATCHUP_DAYS, 31, of the worker); `status` says the last date enqueued',
    '--archive DIR              worker: the Parquet archive (env CONCORD_ARCHIVE_DIR); backfill: where to look for',
    '                           files added after a reconcile (default: the archive the workers registered)',
    '--concurrency N            worker: jobs at once (default 1)',
    '--report-dir DIR           worker: reports of reconcile jobs (default .concord/reports)',
    '--keep-days N              worker: the store\'s retention, run after each nightly run\'s jobs (a `prune__<date>` job):',
    '--keep-versions N          as `concord prune` (env CONCORD_RETENTION_DAYS / CONCORD_RETENTION_VERSIONS, or',
    '                           retentionDays / retentionVersions in --config); none set: nothing is pruned',
    ...nightlyWaitOptions,
    ...metricsOptions.map((line) => line.replace('--metrics-port N          ', '--metrics-port N (worker) ')),
    ...logOptions.map((line) => line.replace(/^(--log-\S+ \S) {9}/, '$1 (worker)')),
    ...storeOptions,
    '                           The worker records its store in Redis; enqueue --store and backfill refuse another one.',
    '                           Redis: env REDIS_URL (default redis://127.0.0.1:6379; a command waits',
    '                           CONCORD_REDIS_TIMEOUT_MS (3000) for it); queue prefix CONCORD_QUEUE_PREFIX (concord);',
    '                           retries CONCORD_JOB_ATTEMPTS (5), CONCORD_JOB_BACKOFF_MS (5000): a job keeps the ones',
    '                           set where it was enqueued (enqueue, backfill, schedule), not the worker\'s',
    ...timingOptions,
  ],
  flags: {
    do: { type: 'string' }, date: { type: 'string' }, pipeline: { type: 'string' }, force: { type: 'boolean' }, wait: { type: 'boolean' }, timeout: { type: 'string' },
    'allow-empty': { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' }, cron: { type: 'string' }, tz: { type: 'string' },
    archive: { type: 'string' }, 'report-dir': { type: 'string' }, 'keep-days': { type: 'string' }, 'keep-versions': { type: 'string' }, concurrency: { type: 'string' }, ...nightlyWaitFlags, ...storeFlags, ...metricsFlags, ...logFlags, ...timingFlags,
  },
  async run(v) {
    const sub = String(v.do ?? '');
    if (!SUB.includes(sub)) {
      const what = v.do === undefined ? 'say what to do' : `unknown subcommand "${sub}"`;
      throw new ConfigError(`${what}: use one of ${SUB.join(', ')} (\`concord jobs status\`)\nRun \`concord jobs --help\` for the options.`);
    }
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

async function runSub(sub: string, v: FlagValues, redisUrl: string): Promise<number> {
  // What can be checked without Redis is checked first.
  if (sub === 'schedule') validateSchedule(stringOr(v.cron, process.env.CONCORD_NIGHTLY_CRON ?? '0 2 * * *'), stringOr(v.tz, process.env.CONCORD_NIGHTLY_TZ ?? 'UTC'));
  if (sub === 'enqueue' || sub === 'retry') {
    if (v.date === undefined) throw new ConfigError(`jobs ${sub} needs --date YYYY-MM-DD`);
    dayRange(String(v.date));
  }
  if (sub === 'status' && v.date !== undefined) dayRange(String(v.date)); // a filter that matches nothing is no answer
  // The days of a backfill, checked once here as `concord backfill --from/--to` checks them; the queue takes them as they are.
  let backfillDates: string[] = [];
  if (sub === 'backfill') {
    if (v.from === undefined && v.to === undefined) throw new ConfigError('jobs backfill needs --from D1 --to D2 (YYYY-MM-DD)');
    backfillDates = daySpanFlags(v.from, v.to, undefined);
  }
  const registry = await loadRegistry(v);
  await probeRedis(redisUrl);
  if (sub === 'worker') return runWorker(v, registry);
  const jobs = new ConcordJobs(registry.pipelines.map((p) => p.name));
  try {
    if (sub === 'schedule') {
      // One schedule per queue prefix: run on a second host (or with another --tz) it replaces the first; say so.
      const was = await jobs.queue.getJobScheduler(NIGHTLY);
      await jobs.schedule(v.cron === undefined ? undefined : String(v.cron), v.tz === undefined ? undefined : String(v.tz));
      const s = await jobs.queue.getJobScheduler(NIGHTLY);
      const replaced = was && (was.pattern !== s?.pattern || (was.tz ?? 'UTC') !== (s?.tz ?? 'UTC')) ? `; replaced ${was.pattern ?? '?'} (${was.tz ?? 'UTC'})`
        : was ? '; it was scheduled so already (one schedule per queue prefix: still one run a night)' : '';
      process.stdout.write(`nightly reconcile scheduled: ${s?.pattern ?? '?'} (${s?.tz ?? 'UTC'}), next run ${s?.next ? describeRunTime(s.next, s.tz ?? 'UTC') : '?'}${replaced}\n`);
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
      const deadline = waitDeadline(v);
      const date = String(v.date);
      // As Airflow leaves a failed run a later run succeeded: the day is done, and a retry would rerun it as it failed.
      const superseded: string[] = [];
      const retried = await jobs.retryFailed(date, v.pipeline === undefined ? undefined : String(v.pipeline), (id, by) => {
        superseded.push(`${id} not retried: ${date} was since reconciled by ${String(by.id)} (completed ${new Date(by.finishedOn ?? 0).toISOString()}); ` +
          `\`concord jobs enqueue --date ${date} --pipeline ${shellWord(by.data.pipeline ?? '?')} --force\` reconciles it again\n`);
      });
      process.stdout.write(superseded.join('') + (retried.length === 0
        ? superseded.length > 0 ? '' : `no failed job of ${date} to retry (\`concord jobs status --date ${date}\` shows its jobs)\n`
        : retried.map((id) => `${id} retried: waiting\n`).join('')));
      if (deadline === undefined) return 0;
      return (await waitFor(jobs, retried, deadline)) > 0 ? 1 : 0;
    }
    if (sub === 'backfill') return await backfill(jobs, v, registry, backfillDates);
    const listed = await jobs.status(v.date === undefined ? undefined : String(v.date));
    for (const j of listed) process.stdout.write(`${statusLine(j)}\n`);
    // A backfill of many days is many jobs: how far the queue is, in one line (all jobs, not only those listed).
    const counts = await jobs.queue.getJobCounts(...STATES);
    const total = STATES.reduce((n, state) => n + (counts[state] ?? 0), 0);
    process.stderr.write(`jobs: ${STATES.filter((state) => (counts[state] ?? 0) > 0).map((state) => `${counts[state]} ${state}`).join(', ') || 'none'}` +
      `${v.date === undefined && listed.length < total ? ` (the first ${listed.length} listed)` : ''}\n`);
    const workers = await jobs.workers();
    const schedule = await jobs.queue.getJobScheduler(NIGHTLY);
    process.stderr.write(`queue prefix ${jobs.settings.prefix} at ${redact(jobs.settings.redisUrl)}: ${workers.length} worker(s)${workers.map((w) => `; ${w.host}:${w.pid} writes ${w.store}`).join('')}; ` +
      `nightly ${schedule ? `${schedule.pattern} (${schedule.tz ?? 'UTC'})` : 'not scheduled'}${nightlyThroughText(await jobs.nightlyThrough())}\n`);
    return 0;
  } finally {
    await jobs.close();
  }
}

const STATES = ['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'] as const;

export function statusLine(j: JobStatus): string {
  // BullMQ keeps an earlier attempt's error on a job a retry then completed (or runs again).
  const why = !j.failedReason ? '' : j.state === 'failed' ? ` — failed: ${j.failedReason}` : ` (an earlier attempt failed: ${j.failedReason})`;
  const result = j.result ? ` ${JSON.stringify(j.result)}` : '';
  const progress = j.state === 'active' && j.progress ? ` ${JSON.stringify(j.progress)}` : '';
  // A nightly reconcile delayed while the stream is behind its day says so (jobs/stream-wait.ts).
  const waiting = j.state === 'delayed' && j.data.streamWait && isWaiting(j.progress) ? ` — ${j.progress.waiting}` : '';
  return `${j.id} ${j.state} attempts=${attemptsOf(j)}${progress}${result}${why}${waiting}`;
}

function isWaiting(progress: unknown): progress is { waiting: string } {
  return typeof progress === 'object' && progress !== null && typeof (progress as { waiting?: unknown }).waiting === 'string';
}

/**
 * The newest date the nightly runs enqueued, per pipeline: where the next run starts (nights missed in
 * an outage are caught up from there); the same date for every pipeline is said once.
 */
export function nightlyThroughText(through: ReadonlyMap<string, string>): string {
  if (through.size === 0) return '';
  const dates = new Set(through.values());
  if (dates.size === 1) return `, enqueued through ${[...dates][0]!}`;
  return `, enqueued through ${[...through].sort(([a], [b]) => a.localeCompare(b)).map(([p, d]) => `${d} (${p})`).join(', ')}`;
}

function stringOr(value: string | boolean | undefined, fallback: string): string {
  return value === undefined ? fallback : String(value);
}
