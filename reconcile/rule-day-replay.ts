import { readArchiveRecovering } from '../batch/archive-recovery.ts';
import { replay } from '../batch/replay.ts';
import type { RulePipeline } from '../pipeline/definition.ts';
import { paneId, type KeyValues } from '../pipeline/keys.ts';
import type { AlertResult } from '../schemas/results.ts';
import { planRuleDay } from './rule-day-reach.ts';
import { narrowToKeys } from './rule-recompute.ts';

/**
 * A rule day's alerts over complete data (each event id once), of `keys` only when given: what a backfill
 * and a recompute publish. Reads the day's reach (rule-day-reach.ts), not the archive from time 0;
 * `from` is where that reach starts, for the caller's check of archive files moved out of it.
 */
export async function replayRuleDay(def: RulePipeline, dir: string, day: { from: number; to: number }, keys?: readonly KeyValues[]): Promise<{ alerts: AlertResult[]; from: number }> {
  const wanted = keys && new Set(keys.map((k) => paneId([def.key], k)));
  return readArchiveRecovering(def, dir, async (db) => {
    const keysWhere = keys && (await narrowToKeys(db, def, keys));
    try {
      const read = await planRuleDay(db, def, dir, day, keysWhere ? { keysWhere } : {});
      const results = await replay(def, dir, { db, dedupe: true, files: read.files });
      // Other keys' alerts in the files read may lack their history: only the day's alerts of the keys looked up.
      const alerts = results.filter((r): r is AlertResult => r.kind === 'alert' && r.ts >= day.from && r.ts < day.to && (!wanted || wanted.has(paneId([def.key], r.key))));
      return { alerts, from: read.from };
    } finally {
      await db.run('DROP TABLE IF EXISTS recompute_keys');
    }
  }, { whenEmpty: () => ({ alerts: [], from: day.from - def.rule.span }) });
}
