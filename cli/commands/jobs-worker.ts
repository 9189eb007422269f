import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../pipeline/errors.ts';
import type { Registry } from '../../pipeline/registry.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { QUEUE, jobSettings } from '../../jobs/job-queue.ts';
import { startWorker } from '../../jobs/job-worker.ts';
import { redact } from '../../store/sql-driver.ts';
import { refuseOtherStores, storeIdentity } from '../../jobs/worker-registry.ts';
import { redisConnection } from '../../jobs/redis-connection.ts';
import { openStore } from '../../store/open-store.ts';
import { metricsFromFlags } from '../../serve/process-metrics.ts';
import { loadSettings } from '../config.ts';
import { loadNightlyWait } from '../nightly-wait-config.ts';
import { loadRetention } from '../retention-config.ts';
import { retentionSet } from '../../store/store-retention.ts';
import { processLog } from '../logging.ts';
import type { FlagValues } from '../args.ts';
import { storeUrl } from './shared.ts';
import { formatDuration } from '../../pipeline/time.ts';
import { onStopSignals } from '../stop-signals.ts';

// `concord jobs worker`: runs jobs until SIGINT/SIGTERM, then stops after the current one.

export async function runWorker(v: FlagValues, registry: Registry): Promise<number> {
  const given = String(v.archive ?? process.env.CONCORD_ARCHIVE_DIR ?? '');
  if (given === '') throw new ConfigError('jobs worker needs --archive DIR (or env CONCORD_ARCHIVE_DIR): the archive days are replayed from');
  // Absolute from here on: the start-up line and the job messages name the folder the worker registers in Redis.
  const archiveDir = resolve(given);
  const concurrency = Number(v.concurrency ?? 1);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`--concurrency "${String(v.concurrency)}": use a whole number >= 1`);
  const settings = jobSettings();
  const retention = loadRetention(v); // bad settings said before Redis is asked
  const streamWait = loadNightlyWait(v);
  const identity = storeIdentity(storeUrl(v));
  // Before anything starts: a worker on another store's queue prefix takes that store's jobs.
  const redis = redisConnection(settings.redisUrl);
  try {
    await refuseOtherStores(redis, settings.prefix, identity);
  } finally {
    redis.disconnect();
  }
  const processLogger = processLog(v, 'concord-jobs');
  // Every line of the worker goes through the process log (text or JSON); `jobs: ` keeps the text lines as they were.
  const sink = processLogger.lineSink();
  const log = (line: string) => sink(`jobs: ${line}`);
  const served = await metricsFromFlags(v, sink);
  const store = await openStore(storeUrl(v), { registry }).catch(async (error: unknown) => { await served?.close(); throw error; });
  const worker = startWorker(defaultProcessors({ store, registry, archiveDir, reportDir: String(v['report-dir'] ?? '.concord/reports'), storeName: identity, timing: loadSettings(v), retention }), {
    concurrency, log, pipelines: registry.pipelines.map((p) => p.name), store: identity, archive: archiveDir, streamWait,
    ...(served ? { metrics: served.metrics } : {}),
  });
  log(`worker started (redis ${redact(settings.redisUrl)}, queue prefix ${settings.prefix}, queue ${QUEUE}, store ${identity}, archive ${archiveDir}); ` +
    `${retentionSet(retention) ? `retention: keep days ${retention.keepDays ?? 'all'}, superseded versions ${retention.keepVersions ?? 'all'} (pruned after each nightly run)` : 'no retention set (nothing pruned)'}; ` +
    `nightly reconciles wait up to ${formatDuration(streamWait.maxWaitMs)} for a stream behind their day (checked every ${formatDuration(streamWait.recheckMs)}); ` +
    'SIGINT/SIGTERM stops after the current job');
  // Not refused: a worker may start before the archiver's first flush. Said at once, not only in each failed job.
  if (!existsSync(archiveDir)) log(`warning: the archive ${archiveDir} does not exist (yet): every job fails until \`concord archive --dir ${archiveDir}\` writes it; check --archive / CONCORD_ARCHIVE_DIR`);
  await new Promise<void>((resolve) => {
    onStopSignals((signal) => {
      log(`${signal}: stopping after the current job (a second signal stops at once; the job is then retried by a worker)`);
      resolve();
    }, {
      again: (signal) => {
        log(`${signal} again: stopping now`);
        process.exit(130);
      },
    });
  });
  await worker.close();
  await store.close();
  await served?.close();
  log('worker stopped');
  processLogger.flush();
  return 0;
}
