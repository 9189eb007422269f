import { archiveScan } from '../batch/archive-columns.ts';
import { ArchiveHours } from '../batch/archive-hours.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { keyValueSql, timeExpr, whereSql } from '../batch/replay-sql.ts';
import type { RulePipeline } from '../pipeline/definition.ts';

const HOUR = 3_600_000;

/**
 * What a rule's day reads from the archive (docs/semantics.md, "A rule day's reach"). An alert of the
 * day at t depends on its key's events within one span before t and on the status at the key's previous
 * event, which counts that event's own span. So the day's alerts of key k depend exactly on k's events
 * at or after min(day start - span, p_k - span), p_k the time of k's last event before the day (in the
 * archive now, kept by `where`). Read: the day, the span before it, and each p_k's span: the hour
 * partitions holding them, nothing else (other keys' events there are harmless: a key's events before
 * its reach change only its alerts before the day).
 */
export interface RuleDayRead {
  /** The archive files to read, sorted. */
  readonly files: readonly string[];
  /** The day's own files (its alerts are raised at their events). */
  readonly dayFiles: readonly string[];
  /** The earliest event time that can change one of the day's alerts: the quietest key's reach. */
  readonly from: number;
  /** The day's keys looked up, and the hour partitions the look-up read (key and time columns only). */
  readonly keys: number;
  readonly walkedHours: number;
}

export interface RuleDayOptions {
  /** SQL over the archive's columns: the day's keys to look up (default all; e.g. a backfill's dirty keys). */
  readonly keysWhere?: string;
  /**
   * A table `(_source, _offset)` of deliveries that are no key's last event here: the stream's late ones,
   * the archive-added ones and those it quarantined, for the stream's view (rule-recompute.ts), whose
   * predecessor is at or after the key's last event every decision kept.
   */
  readonly notLast?: string;
  /** Event times whose hours are read too (those deliveries: the stream evaluated some of them). */
  readonly alsoAt?: readonly number[];
}

/**
 * Finds each key's last event before the day by walking the hour partitions back from midnight, in
 * batches of 1, 2, 4, ... hours, reading the key and time columns only, until every key of the day is
 * found or the archive's first hour is passed (a key new that day walks the whole archive, narrowly).
 * `db`'s temporary tables `rule_day_*` are replaced and dropped.
 */
export async function planRuleDay(db: DuckDb, def: RulePipeline, dir: string, day: { from: number; to: number }, o: RuleDayOptions = {}): Promise<RuleDayRead> {
  const span = def.rule.span;
  const hours = await ArchiveHours.of(dir, def.schema);
  const { dayFiles, keys, walkedHours } = await lastBeforeDay(db, def, dir, day, o, hours);
  const lastTimes = ((await db.columns('SELECT DISTINCT ts FROM rule_day_last')).ts ?? []).map(Number);
  await db.run('DROP TABLE rule_day_last');
  const reaches = [{ from: day.from - span, to: day.to }, ...lastTimes.map((t) => ({ from: t - span, to: t + 1 })), ...(o.alsoAt ?? []).map((t) => ({ from: t, to: t + 1 }))];
  const files = (await hours.hoursAt(hourStarts(reaches))).flatMap((h) => h.files);
  const from = Math.min(day.from - span, ...lastTimes.map((t) => t - span));
  return { files, dayFiles, from, keys, walkedHours };
}

/**
 * The walk alone: leaves the table `rule_day_last (k, ts)`, each key of the day (of `o.keysWhere`) with
 * the time of its last event before the day, for the caller to read and drop.
 */
export async function lastBeforeDay(
  db: DuckDb, def: RulePipeline, dir: string, day: { from: number; to: number }, o: RuleDayOptions = {}, listed?: ArchiveHours,
): Promise<{ dayFiles: string[]; keys: number; walkedHours: number }> {
  const hours = listed ?? (await ArchiveHours.of(dir, def.schema));
  const dayFiles = (await hours.hoursAt(hourStarts([day]))).flatMap((h) => h.files);
  const k = keyValueSql(def, def.key), ts = timeExpr(def);
  const kept = [...(def.where.length > 0 ? [whereSql(def)] : []), ...(o.keysWhere ? [o.keysWhere] : [])].map((c) => ` AND ${c}`).join('');
  const dayKeys = dayFiles.length === 0 ? 'SELECT NULL AS k WHERE false' : `SELECT DISTINCT ${k} AS k FROM ${archiveScan(dir, def.schema, dayFiles)}
    WHERE ${ts} >= ${day.from} AND ${ts} < ${day.to}${kept}`;
  await db.run(`CREATE OR REPLACE TEMP TABLE rule_day_pending AS ${dayKeys}`);
  await db.run('CREATE OR REPLACE TEMP TABLE rule_day_last AS SELECT k, 0::BIGINT AS ts FROM rule_day_pending WHERE false');
  let pending = await count(db, 'rule_day_pending');
  const keys = pending;
  let walkedHours = 0;
  // One query per batch: the key's latest time in it, for the keys not found in a later one.
  const walk = async (files: readonly string[]) => {
    const scan = archiveScan(dir, def.schema, files);
    const from = o.notLast ? `(SELECT * FROM ${scan} ANTI JOIN ${o.notLast} USING (_source, _offset))` : scan;
    await db.run(`INSERT INTO rule_day_last SELECT e.k, max(e.ts) FROM (SELECT ${k} AS k, ${ts} AS ts FROM ${from} WHERE ${ts} < ${day.from}${kept}) e
      SEMI JOIN rule_day_pending p ON e.k IS NOT DISTINCT FROM p.k GROUP BY e.k`);
    await db.run('DELETE FROM rule_day_pending USING rule_day_last l WHERE rule_day_pending.k IS NOT DISTINCT FROM l.k');
    return count(db, 'rule_day_pending');
  };
  let batch: string[] = [], inBatch = 0, size = 1;
  for await (const h of hours.backFrom(day.from)) {
    if (pending === 0) break;
    batch.push(...h.files);
    walkedHours++;
    if (++inBatch < size) continue;
    pending = await walk(batch);
    batch = [];
    inBatch = 0;
    size *= 2;
  }
  if (pending > 0 && batch.length > 0) await walk(batch);
  await db.run('DROP TABLE rule_day_pending');
  return { dayFiles, keys, walkedHours };
}

async function count(db: DuckDb, table: string): Promise<number> {
  return Number((await db.rows(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
}

/** The starts of the hours overlapping `ranges` ([from, to), epoch ms). */
export function hourStarts(ranges: readonly { from: number; to: number }[]): Set<number> {
  const sorted = [...ranges].filter((r) => r.to > r.from).sort((a, b) => a.from - b.from);
  const out = new Set<number>();
  let next = Number.NEGATIVE_INFINITY; // hours below this are in `out` already
  for (const r of sorted) {
    for (let h = Math.max(Math.floor(r.from / HOUR) * HOUR, next); h < r.to; h += HOUR) out.add(h);
    next = Math.max(next, Math.ceil(r.to / HOUR) * HOUR);
  }
  return out;
}
