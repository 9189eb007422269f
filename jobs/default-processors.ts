import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { schemaDir } from '../batch/archive-layout.ts';
import { withTiming } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import type { Registry } from '../pipeline/registry.ts';
import type { EventSchema } from '../schemas/schema.ts';
import type { DayReconciliation } from '../reconcile/day-report.ts';
import { backfillDay, reconcileDay } from '../reconcile/reconcile-day.ts';
import type { SqlResultStore } from '../store/sql-store.ts';
import { backfillDays } from './backfill-days.ts';
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
  const summary = (rec: DayReconciliation, resumed: boolean) => ({
    pipeline: rec.pipeline, date: rec.date, generation: rec.generation, corrections: rec.corrections,
    different: rec.report.different, unexplained: rec.report.unexplained, ...(resumed ? { resumed: 'published by an earlier attempt' } : {}),
  });
  return {
    async reconcile({ date, pipeline, jobId, allowEmpty, attempt }, progress) {
      const d = def(pipeline);
      // An empty archive day would publish an empty version over the stream's rows: almost always a
      // day not archived (yet), so it is refused unless asked for.
      if (!allowEmpty && !(await archiveHasDate(s.archiveDir, d.schema, date))) {
        throw new ConcordError(`no archived events for ${date} in ${s.archiveDir}: archive the day first, or pass --allow-empty`, { domain: 'user' });
      }
      // A rerun of a job whose earlier attempt got past publishing and storing its report (steps 2-3)
      // resumes after them; before that point everything is redone (the replay lives in memory only).
      if (attempt) {
        const done = (await s.store.reconciliations(pipeline, date)).find((r) => r.job_id === jobId && r.status === 'published');
        if (done && (s.reportDir === undefined || await exists(join(s.reportDir, date, `${pipeline}.json`)))) {
          await progress({ done: 5, total: 5, what: 'done (the earlier attempt had published and stored its report)' });
          return summary(done, true);
        }
      }
      const rec = await reconcileDay({
        def: d, date, store: s.store, archiveDir: s.archiveDir, jobId, progress, ...(allowEmpty ? { allowEmpty: true } : {}),
        ...(s.reportDir ? { reportDir: s.reportDir } : {}),
      });
      return summary(rec, false);
    },
    async backfill({ date, pipeline, jobId }, progress) {
      // backfillDay first marks the cells of archive files written after the day's last reconcile dirty.
      return { ...(await backfillDay({ def: def(pipeline), date, store: s.store, archiveDir: s.archiveDir, jobId, progress })) };
    },
    async pendingBackfills(pipeline, dates) {
      return backfillDays(s.store, def(pipeline), dates, s.archiveDir);
    },
  };
}

/** True if the archive holds a Parquet file of `date` (the event-time partition `dt=date`) for the schema. */
export async function archiveHasDate(archiveDir: string, schema: EventSchema, date: string): Promise<boolean> {
  const day = join(schemaDir(archiveDir, schema), `dt=${date}`);
  let hours: string[];
  try {
    hours = await readdir(day);
  } catch {
    return false;
  }
  for (const h of hours) {
    const files = await readdir(join(day, h)).catch(() => [] as string[]);
    if (files.some((f) => f.endsWith('.parquet'))) return true;
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
