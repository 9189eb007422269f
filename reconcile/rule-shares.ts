import type { DuckDb } from '../batch/duckdb.ts';
import type { RulePipeline } from '../pipeline/definition.ts';
import type { KeyValues } from '../pipeline/keys.ts';
import { positionKey, type ResultRecord } from '../schemas/results.ts';
import type { LoggedLate } from './reconcile.ts';
import { narrowToKeys, readKeysEvents, runWithVerdicts } from './rule-recompute.ts';

/**
 * A mis-keyed rule's shares (mis-keyed.ts): each partition's operator alerted over its own events only,
 * and judged lateness by its own W. So each share is the stream's rule operator re-run over that
 * partition's events of the keys with the workers' verdicts (rule-recompute.ts): an event logged as
 * dropped left out, one evaluated on arrival fed at the W its partition met, in its partition's order. A
 * share replayed as complete data instead fed those events in time order, and the alerts they changed
 * stayed `unexplained`. `exclude`: archived events the stream never read (quarantined).
 */
export async function ruleShares(
  db: DuckDb, def: RulePipeline, dir: string, keys: readonly KeyValues[], sources: readonly string[], verdicts: readonly LoggedLate[],
  read: { readonly files?: readonly string[] | undefined; readonly exclude?: readonly { source: string; offset: number }[] | undefined },
): Promise<Map<string, Map<string, ResultRecord>>> {
  const where = await narrowToKeys(db, def, keys);
  const events = await readKeysEvents(db, def, dir, keys, where, read.files).finally(() => db.run('DROP TABLE IF EXISTS recompute_keys'));
  const unread = new Set((read.exclude ?? []).map(positionKey));
  const byPosition = new Map(verdicts.map((l) => [positionKey(l.record.position), l]));
  const shares = new Map<string, Map<string, ResultRecord>>();
  for (const source of sources) {
    const own = events.filter((e) => e.position.source === source && !unread.has(positionKey(e.position)));
    shares.set(source, runWithVerdicts(def, own, byPosition));
  }
  return shares;
}
