import { QueueEvents } from 'bullmq';
import { ConfigError } from '../../pipeline/errors.ts';
import { dayRange } from '../../reconcile/reconcile-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { ConcordJobs, QUEUE, redisConnection } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { openStore } from '../../store/open-store.ts';
import { metricsFlags, metricsFromFlags, metricsOptions } from '../../serve/process-metrics.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import type { Registry } from '../../pipeline/registry.ts';
import { loadRegistry, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';

const SUB = ['worker', 'schedule', 'enqueue', 'backfill', 'status'];

export const jobsCommand: CommandSpec = {
  name: 'jobs',
  summary: 'BullMQ jobs: nightly replay + reconcile, backfill of dirty cells, workers, status',
  usage: 'concord jobs worker|schedule|enqueue|backfill|status [options]',
  leadingWordAs: 'do',
  options: [
    '--do worker                run jobs until SIGINT/SIGTERM (--archive DIR, --store URL, --concurrency N)',
    '--do schedule              nightly replay + reconcile of the previous date (--cron "0 2 * * *", --tz UTC)',
    '--do enqueue               reconcile --date D [--pipeline NAME|all] [--force: a deliberate rerun] [--wait]',
    '--do backfill              --from D1 --to D2 [--pipeline P]: one job per (pipeline, date) with dirty cells',
    '--do status                jobs with state, attempts, progress, result or failure reason [--date D]',
    '                           (the subcommand may also be given as the first word: `concord jobs status`)',
    '--archive DIR              the Parquet archive (worker; env CONCORD_ARCHIVE_DIR)',
    '--report-dir DIR           reports of reconcile jobs (default .concord/reports)',
    ...metricsOptions.map((line) => line.replace('--metrics-port N          ', '--metrics-port N (worker) ')),
    ...storeOptions,
    '                           Redis: env REDIS_URL (default redis://127.0.0.1:6379); queue prefix',
    '                           CONCORD_QUEUE_PREFIX; retries CONCORD_JOB_ATTEMPTS (5), CONCORD_JOB_BACKOFF_MS (5000)',
    ...timingOptions,
  ],
  flags: {
    do: { type: 'string' }, date: { type: 'string' }, pipeline: { type: 'string' }, force: { type: 'boolean' }, wait: { type: 'boolean' },
    from: { type: 'string' }, to: { type: 'string' }, cron: { type: 'string' }, tz: { type: 'string' }, archive: { type: 'string' },
    'report-dir': { type: 'string' }, concurrency: { type: 'string' }, ...storeFlags, ...metricsFlags, ...timingFlags,
  },
  async run(v) {
    const sub = String(v.do ?? '');
    if (!SUB.includes(sub)) throw new ConfigError(`say what to do: concord jobs ${SUB.join('|')}\nRun \`concord jobs --help\` for the options.`);
    const registry = await loadRegistry(v);
    if (sub === 'worker') return runWorker(v, registry);
    const jobs = new ConcordJobs(registry.pipelines.map((p) => p.name));
    try {
      if (sub === 'schedule') {
        await jobs.schedule(v.cron === undefined ? undefined : String(v.cron), v.tz === undefined ? undefined : String(v.tz));
        const s = await jobs.queue.getJobScheduler('nightly-reconcile');
        process.stdout.write(`nightly reconcile scheduled: ${s?.pattern ?? '?'} (${s?.tz ?? 'UTC'}), next run ${s?.next ? new Date(s.next).toISOString() : '?'}\n`);
      } else if (sub === 'enqueue') {
        if (v.date === undefined) throw new ConfigError('jobs enqueue needs --date YYYY-MM-DD');
        dayRange(String(v.date));
        const added = await jobs.enqueueReconcile(String(v.date), v.pipeline === undefined ? undefined : String(v.pipeline), v.force === true);
        for (const j of added) process.stdout.write(`${String(j.id)} ${await j.getState()}\n`);
        if (v.wait) return await waitFor(jobs, added.map((j) => String(j.id)));
      } else if (sub === 'backfill') {
        if (v.from === undefined || v.to === undefined) throw new ConfigError('jobs backfill needs --from D1 --to D2');
        const store = await openStore(storeUrl(v), { registry });
        try {
          const added = await jobs.enqueueBackfill(String(v.from), String(v.to), v.pipeline === undefined ? undefined : String(v.pipeline), (p) => store.dirtyDays(p));
          process.stdout.write(added.length === 0 ? 'no dirty cells in that range: nothing to backfill\n' : added.map((j) => `${String(j.id)}\n`).join(''));
        } finally {
          await store.close();
        }
      } else {
        for (const j of await jobs.status(v.date === undefined ? undefined : String(v.date))) {
          const why = j.failedReason ? ` — failed: ${j.failedReason}` : '';
          const result = j.result ? ` ${JSON.stringify(j.result)}` : '';
          const progress = j.state === 'active' && j.progress ? ` ${JSON.stringify(j.progress)}` : '';
          process.stdout.write(`${j.id} ${j.state} attempts=${j.attemptsMade}${progress}${result}${why}\n`);
        }
      }
    } finally {
      await jobs.close();
    }
    return 0;
  },
};

async function waitFor(jobs: ConcordJobs, ids: string[]): Promise<number> {
  const events = new QueueEvents(QUEUE, { connection: redisConnection(jobs.settings.redisUrl), prefix: jobs.settings.prefix });
  try {
    let failed = 0;
    for (const id of ids) {
      const job = await jobs.queue.getJob(id);
      if (!job) continue;
      try {
        const result = await job.waitUntilFinished(events);
        process.stdout.write(`${id} completed ${JSON.stringify(result)}\n`);
      } catch (error) {
        failed++;
        process.stdout.write(`${id} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
    return failed > 0 ? 1 : 0;
  } finally {
    await events.close();
  }
}

async function runWorker(v: Record<string, string | boolean | undefined>, registry: Registry): Promise<number> {
  const archiveDir = String(v.archive ?? process.env.CONCORD_ARCHIVE_DIR ?? '');
  if (archiveDir === '') throw new ConfigError('jobs worker needs --archive DIR (or env CONCORD_ARCHIVE_DIR): the archive days are replayed from');
  const served = await metricsFromFlags(v);
  const store = await openStore(storeUrl(v), { registry });
  const worker = startWorker(defaultProcessors({ store, registry, archiveDir, reportDir: String(v['report-dir'] ?? '.concord/reports'), timing: loadSettings(v) }), {
    concurrency: Number(v.concurrency ?? 1), log: (line) => process.stderr.write(`jobs: ${line}\n`), pipelines: registry.pipelines.map((p) => p.name),
    ...(served ? { metrics: served.metrics } : {}),
  });
  process.stderr.write(`jobs: worker started (queue ${QUEUE}, store ${store.backend}, archive ${archiveDir}); Ctrl-C stops after the current job\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await worker.close();
  await store.close();
  await served?.close();
  return 0;
}
