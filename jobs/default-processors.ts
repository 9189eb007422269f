import { withTiming } from '../pipeline/definition.ts';
import type { Registry } from '../pipeline/registry.ts';
import { backfillDay, reconcileDay } from '../reconcile/reconcile-day.ts';
import type { SqlResultStore } from '../store/sql-store.ts';
import type { JobProcessors } from './job-worker.ts';

export interface ProcessorSettings {
  store: SqlResultStore;
  /** The loaded definitions: jobs name their pipeline. */
  registry: Registry;
  /** The Parquet archive days are replayed from. */
  archiveDir: string;
  reportDir?: string;
  timing?: { maxOutOfOrderness?: number; allowedLateness?: number };
}

/** The real work: replay + reconcile a day into the store, or backfill its dirty cells. */
export function defaultProcessors(s: ProcessorSettings): JobProcessors {
  const def = (name: string) => withTiming(s.registry.pipeline(name), s.timing ?? {});
  return {
    async reconcile({ date, pipeline, jobId }, progress) {
      const rec = await reconcileDay({
        def: def(pipeline), date, store: s.store, archiveDir: s.archiveDir, jobId, progress,
        ...(s.reportDir ? { reportDir: s.reportDir } : {}),
      });
      return { pipeline, date, generation: rec.generation, corrections: rec.corrections, different: rec.report.different, unexplained: rec.report.unexplained };
    },
    async backfill({ date, pipeline, jobId }, progress) {
      return { ...(await backfillDay({ def: def(pipeline), date, store: s.store, archiveDir: s.archiveDir, jobId, progress })) };
    },
  };
}
