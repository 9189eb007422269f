import { CorruptArchiveDayError } from '../batch/archive-check.ts';
import { definitionVersion, withTiming } from '../pipeline/definition.ts';
import { dayFinalAt, streamBehind } from '../store/day-status.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import type { Registry } from '../pipeline/registry.ts';
import type { DayReconciliation } from '../reconcile/day-report.ts';
import { backfillDay, DayRecomputedError, NoArchivedDayError, reconcileDay, reportWritten } from '../reconcile/reconcile-day.ts';
import type { SqlResultStore } from '../store/sql-store.ts';
import { describeSummary, pruneStore, retentionSet, summarize, type RetentionPolicy } from '../store/store-retention.ts';
import { describeVerdicts } from '../store/verdict-retention.ts';
import { backfillDays } from './backfill-days.ts';
import type { JobProcessors } from './job-worker.ts';
import { storeNights } from './missed-nights.ts';

export interface ProcessorSettings {
  store: SqlResultStore;
  /** The loaded definitions: jobs name their pipeline. */
  registry: Registry;
  /** The Parquet archive days are replayed from. */
  archiveDir: string;
  reportDir?: string;
  /** The store's name (`storeIdentity`), written into the reports: another store's report in reportDir is refused. */
  storeName?: string;
  timing?: { maxOutOfOrderness?: number; allowedLateness?: number };
  /** The store's retention (cli/retention-config.ts); unset: the nightly run prunes nothing. */
  retention?: RetentionPolicy;
}

/** The real work: replay + reconcile a day into the store, or backfill its dirty cells. */
export function defaultProcessors(s: ProcessorSettings): JobProcessors {
  const def = (name: string) => withTiming(s.registry.pipeline(name), s.timing ?? {});
  // The worker's B and L (flags, env, --config) make another version than the file's own: refusals say so.
  const own = (name: string) => ({ ownVersion: definitionVersion(s.registry.pipeline(name)) });
  const summary = (rec: DayReconciliation, resumed: boolean) => ({
    pipeline: rec.pipeline, date: rec.date, generation: rec.generation, corrections: rec.corrections,
    different: rec.report.different, unexplained: rec.report.unexplained, ...(resumed ? { resumed: 'published by an earlier attempt' } : {}),
  });
  return {
    async reconcile({ date, pipeline, jobId, allowEmpty, attempt }, progress) {
      const d = def(pipeline);
      // A rerun of a job whose earlier attempt got past publishing and storing its report (steps 2-3)
      // resumes after them; before that point everything is redone (the replay lives in memory only).
      if (attempt) {
        const done = (await s.store.reconciliations(pipeline, date)).find((r) => r.job_id === jobId && (r.status === 'published' || r.status === 'unchanged'));
        if (done && (s.reportDir === undefined || await reportWritten(s.reportDir, date, pipeline, s.storeName))) {
          await progress({ done: 5, total: 5, what: 'done (the earlier attempt had published and stored its report)' });
          return summary(done, true);
        }
      }
      const rec = await reconcileDay({
        def: d, date, store: s.store, archiveDir: s.archiveDir, jobId, progress, ...own(pipeline), ...(allowEmpty ? { allowEmpty: true } : {}),
        ...(s.reportDir ? { reportDir: s.reportDir } : {}), ...(s.storeName === undefined ? {} : { storeName: s.storeName }),
      }).catch((error: unknown) => {
        // Recomputed by a backfill under these definitions: done, not a failure to retry.
        if (error instanceof DayRecomputedError) return { pipeline, date, nothing: error.message };
        throw jobAdvice(error, date, pipeline, 'reconcile', s);
      });
      return 'nothing' in rec ? rec : summary(rec, false);
    },
    async backfill({ date, pipeline, jobId }, progress) {
      // backfillDay first marks the cells of archive files written after the day's last reconcile dirty.
      const backfilled = await backfillDay({ def: def(pipeline), date, store: s.store, archiveDir: s.archiveDir, jobId, progress, ...own(pipeline) })
        .catch((error: unknown) => { throw jobAdvice(error, date, pipeline, 'backfill', s); });
      return { ...backfilled };
    },
    async pendingBackfills(pipeline, dates) {
      return backfillDays(s.store, def(pipeline), dates, s.archiveDir);
    },
    async nights(pipeline, dates) {
      return storeNights(s.store, def(pipeline), dates, s.archiveDir);
    },
    dayFinalAt(pipeline, date) {
      return dayFinalAt(def(pipeline), date);
    },
    streamBehind(pipeline, date) {
      return streamBehind(s.store, def(pipeline), date);
    },
    ...(retentionSet(s.retention) ? { prune: (progress) => prune(s.store, s.retention!, progress) } : {}),
  };
}

/**
 * A job is not rerun by passing an option to it: say which command does what (retry keeps the job's
 * options). A missing archive folder is the worker's --archive, which neither a retry nor --allow-empty
 * fixes (an empty reconcile of a day the stream wrote would fail as unexplained). Corrupt archive files:
 * once restored, the job is retried (not `run again`, which meant the CLI command).
 */
function jobAdvice(error: unknown, date: string, pipeline: string, kind: 'reconcile' | 'backfill', s: ProcessorSettings): unknown {
  const retry = `\`concord jobs retry --date ${date}\``;
  if (error instanceof CorruptArchiveDayError) {
    const without = `; to publish the day without them instead, \`concord reconcile --date ${date} --pipeline ${shellWord(pipeline)} --archive ${shellWord(s.archiveDir)} --force\` with the worker's --store` +
      `${s.store.backend === 'duckdb' ? ' (an embedded DuckDB store: with the worker stopped)' : ''}`;
    return new CorruptArchiveDayError(error.pipeline, error.date, error.files, error.by, `${retry}${kind === 'backfill' ? ' (its dirty cells are kept)' : without}`);
  }
  if (!(error instanceof NoArchivedDayError)) return error;
  const advice = !error.archiveExists || error.slip !== undefined
    ? `${error.slip !== undefined ? ';' : ':'} start the worker with the archive's folder (--archive), then ${retry}`
    : kind === 'backfill'
      ? `, then ${retry} (its dirty cells are kept)`
      : `, then ${retry}; or, for a day without traffic, \`concord jobs enqueue --date ${date} --pipeline ${shellWord(pipeline)} --allow-empty --force\``;
  return new ConcordError(`${error.message}${advice}`, { domain: 'user', cause: error });
}

/** The nightly prune: the retention over every pipeline, a day per transaction; what went, per pipeline. */
async function prune(store: SqlResultStore, policy: RetentionPolicy, progress: Parameters<NonNullable<JobProcessors['prune']>>[0]): Promise<Record<string, unknown>> {
  const done = await pruneStore(store, policy, { onDay: (n, total, d) => progress({ done: n, total, what: d ? `${d.pipeline} ${d.day}: ${d.whole ? 'whole day' : `versions ${d.versions.join(', ')}`}` : 'nothing left to delete' }) });
  const lines = [...describeSummary(summarize(done.days)), ...describeVerdicts(done.verdicts)];
  return { keepDays: policy.keepDays ?? null, keepVersions: policy.keepVersions ?? null, days: done.days.length, deleted: lines.length > 0 ? lines : 'nothing' };
}
