import type { PipelineDefinition } from '../pipeline/definition.ts';
import { archiveFilesWrittenSince } from '../reconcile/archive-changes.ts';
import { ruleArchiveChangedSince } from '../reconcile/rule-archive-changes.ts';
import type { SqlResultStore } from '../store/sql-store.ts';

/**
 * The days of `dates` a backfill of `def` has work for, each with the instant of its newest news: the
 * newest unconsumed dirty cell (stream rows or late events after the reconcile), or the newest archive
 * file written after the day's last reconcile or backfill (late data that reached only the archive).
 * That instant goes into the backfill job id, so asking twice for the same news is one job, while news
 * arriving after a backfill ran makes a new one. Days never reconciled have no archive news (their
 * reconcile reads all the archive holds for them); a day reverted to the stream's version is left out.
 * `archiveDir` undefined: dirty cells only.
 */
export async function backfillDays(
  store: Pick<SqlResultStore, 'dirtyDays' | 'archiveCheckedThrough' | 'revertedToStream'>, def: PipelineDefinition, dates: readonly string[], archiveDir: string | undefined,
): Promise<Map<string, number>> {
  const dirty = await store.dirtyDays(def.name);
  const out = new Map<string, number>();
  for (const date of dates) {
    // A day reverted to the stream's version is left as the revert left it (backfillDay skips it too).
    if (await store.revertedToStream(def.name, date)) continue;
    let newest = dirty.get(date);
    if (archiveDir !== undefined) {
      const since = await store.archiveCheckedThrough(def.name, date);
      if (since !== null) {
        let news = await archiveFilesWrittenSince(def, archiveDir, date, since);
        // A rule's older files reach the day through a quiet key's last event: read, as the backfill reads them.
        if (def.kind === 'rule') news = (await ruleArchiveChangedSince(def, archiveDir, date, since, news, { newsOnly: true })).written;
        for (const f of news) newest = Math.max(newest ?? 0, Math.ceil(f.mtimeMs));
      }
    }
    if (newest !== undefined) out.set(date, newest);
  }
  return out;
}
