import type { PipelineDefinition } from '../pipeline/definition.ts';
import { archiveHoldsDay } from '../reconcile/archive-changes.ts';
import type { SqlResultStore } from '../store/sql-store.ts';

/** The store's view of a pipeline's nights (jobs/nightly-catch-up.ts `withStoreNights`). */
export interface StoreNights {
  /** Reconciled (a version published, reverted since or not) or pruned: never enqueued again by a nightly run. */
  done: ReadonlySet<string>;
  /** Not reconciled, with stream rows in the store and events in the archive: what a reconcile can take. */
  missing: readonly string[];
  /** Not reconciled, with stream rows but no archived event (the archive behind): a reconcile would fail. */
  unarchived: readonly string[];
}

/**
 * Of `dates` (oldest first), what the store and the archive say was done and is still to do: the record
 * of the nights that outlives Redis (a flush, a failover to an empty replica). A day the stream never
 * wrote is neither (a reconcile of it fails: no realtime rows), nor a day before the store's first row.
 */
export async function storeNights(store: Pick<SqlResultStore, 'nightRecord'>, def: PipelineDefinition, dates: readonly string[], archiveDir: string): Promise<StoreNights> {
  const record = await store.nightRecord(def.name, dates);
  const missing: string[] = [], unarchived: string[] = [];
  for (const date of dates) {
    if (record.reconciled.has(date) || !record.streamed.has(date)) continue;
    ((await archiveHoldsDay(def, archiveDir, date)) ? missing : unarchived).push(date);
  }
  return { done: record.reconciled, missing, unarchived };
}
