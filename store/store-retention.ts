import { ConcordError } from '../pipeline/errors.ts';
import type { Registry } from '../pipeline/registry.ts';
import { isSealed, windowOf } from './day-status.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import type { PruneVerdicts } from './verdict-retention.ts';

const DAY = 86_400_000;

/**
 * What the store keeps (docs/operations.md, "Retention"). Unset: kept for good.
 * - `keepDays`: a sealed day whose end is more than this many days before its pipeline's watermark is
 *   deleted whole (every table's rows of it), leaving a `pruned_days` row readers answer "pruned" from;
 *   the stream's verdicts on events of such days go per input schema (verdict-retention.ts).
 * - `keepVersions`: of a sealed day's superseded reconciled versions (not live, not the one a revert
 *   goes back to), the newest this many keep their rows; the others' rows go and they are marked `pruned`.
 * The stream's own rows (version 0) of a kept day always stay: reconcile diffs against them, late rows
 * are compared with them, compare and revert read them.
 */
export interface RetentionPolicy {
  keepDays?: number;
  keepVersions?: number;
}

/** The tables holding rows of a (pipeline, day), each with its `day` column: what a whole day's deletion empties. */
export const DAY_TABLES = [
  'result_rows', 'result_history', 'day_versions', 'day_live', 'switch_log', 'changes', 'dirty_cells', 'contradicted_cells',
  'late_delta', 'late_events', 'archive_checks', 'reconciliations',
] as const;

/** One day's part of a prune: the whole day, or some of its versions; rows per table. */
export interface PruneDay {
  pipeline: string;
  day: string;
  /** The whole day goes (older than keepDays); else `versions` go. */
  whole: boolean;
  /** The versions whose rows go (whole: every version the day has). */
  versions: number[];
  rows: Partial<Record<(typeof DAY_TABLES)[number], number>>;
}

export const rowsOf = (d: PruneDay) => Object.values(d.rows).reduce((n, x) => n + (x ?? 0), 0);

/** Whether a policy deletes anything at all. */
export function retentionSet(p: RetentionPolicy | undefined): p is RetentionPolicy {
  return p !== undefined && (p.keepDays !== undefined || p.keepVersions !== undefined);
}

/**
 * Plans and applies the retention, one (pipeline, day) per transaction: each day is re-planned inside
 * its own transaction (under the writers' lock on PostgreSQL), so what goes is decided on the state it
 * deletes from, and a reader's snapshot (store/store-reader.ts) sees the day before or after, never between.
 */
export class StoreRetention {
  constructor(private readonly schema: string, private readonly registry: Registry, private readonly sealDelayMs: number) {}

  /** The days with something to delete under `policy`, in (pipeline, day) order; `pipelines`: only those. */
  async plan(db: SqlDriver, policy: RetentionPolicy, pipelines?: readonly string[]): Promise<PruneDay[]> {
    const s = this.schema;
    const out: PruneDay[] = [];
    for (const { pipeline, w } of await this.watermarks(db, pipelines)) {
      // Candidates: every day older than keepDays (any table), and the days with reconciled versions.
      const days = new Set<string>();
      if (policy.keepDays !== undefined) {
        const before = oldestKept(w, policy.keepDays);
        for (const t of DAY_TABLES) {
          for (const r of await db.query(`SELECT DISTINCT day FROM ${s}.${t} WHERE pipeline = $1 AND day < $2`, [pipeline, before])) days.add(String(r.day));
        }
      }
      if (policy.keepVersions !== undefined) {
        for (const r of await db.query(`SELECT DISTINCT day FROM ${s}.day_versions WHERE pipeline = $1 AND status <> 'pruned'`, [pipeline])) days.add(String(r.day));
      }
      for (const day of [...days].sort()) {
        const d = await this.dayOf(db, policy, pipeline, w, day);
        if (d) out.push(d);
      }
    }
    return out;
  }

  /**
   * Deletes one day's part inside the caller's transaction, decided again on what the transaction sees
   * (a reconcile may have switched the day since the plan); what it deleted, or null when nothing is left to.
   */
  async pruneDay(tx: SqlDriver, policy: RetentionPolicy, pipeline: string, day: string, at: number): Promise<PruneDay | null> {
    const [wm] = await this.watermarks(tx, [pipeline]);
    const again = wm ? await this.dayOf(tx, policy, pipeline, wm.w, day) : null;
    if (!again) return null;
    const s = this.schema;
    const done: PruneDay = { ...again, rows: {} };
    if (again.whole) {
      for (const t of DAY_TABLES) {
        const [where, params] = dayRows(t, pipeline, day, again.versions);
        done.rows[t] = await tx.execute(`DELETE FROM ${s}.${t} WHERE ${where}`, params);
      }
      await tx.query(
        `INSERT INTO ${s}.pruned_days (pipeline, day, pruned_at, rows) VALUES ($1, $2, $3, $4)
         ON CONFLICT (pipeline, day) DO UPDATE SET pruned_at = excluded.pruned_at, rows = ${s}.pruned_days.rows + excluded.rows`, [pipeline, day, at, rowsOf(done)]);
      return done;
    }
    for (const t of ['result_rows', 'result_history'] as const) {
      const [where, params] = dayRows(t, pipeline, day, again.versions);
      done.rows[t] = await tx.execute(`DELETE FROM ${s}.${t} WHERE ${where}`, params);
    }
    const [inList, params] = versionsIn(again.versions, [pipeline, day]);
    // The reports of the pruned versions' reconciliations, but never the day's latest (what `report` shows).
    done.rows.reconciliations = await tx.execute(
      `DELETE FROM ${s}.reconciliations WHERE pipeline = $1 AND day = $2 AND generation IN ${inList}
         AND at_ms < (SELECT max(at_ms) FROM ${s}.reconciliations WHERE pipeline = $1 AND day = $2)`, params);
    await tx.query(`UPDATE ${s}.day_versions SET status = 'pruned' WHERE pipeline = $1 AND day = $2 AND generation IN ${inList}`, params);
    return done;
  }

  /** What goes of one day under `policy` at watermark `w`: null when nothing (not sealed, within retention, nothing superseded). */
  private async dayOf(db: SqlDriver, policy: RetentionPolicy, pipeline: string, w: number, day: string): Promise<PruneDay | null> {
    // Never a day that is not sealed: late rows may still change it, and a reconcile may be about to.
    if (!isSealed(day, w, this.sealDelayMs, windowOf(this.registry, pipeline))) return null;
    if (policy.keepDays !== undefined && day < oldestKept(w, policy.keepDays)) {
      const whole = await this.dayPlan(db, pipeline, day, null);
      return rowsOf(whole) > 0 ? whole : null; // pruned already, or never held
    }
    if (policy.keepVersions === undefined) return null;
    const versions = await this.supersededBeyond(db, pipeline, day, policy.keepVersions);
    return versions.length > 0 ? this.dayPlan(db, pipeline, day, versions) : null;
  }

  /** The rows the store holds of `pipeline` per day and table (tables with none left out), and the days pruned: what a prune left. */
  async heldRows(db: SqlDriver, pipeline: string): Promise<{ days: Record<string, Record<string, number>>; pruned: string[] }> {
    const days: Record<string, Record<string, number>> = {};
    for (const t of DAY_TABLES) {
      for (const r of await db.query(`SELECT day, count(*) AS n FROM ${this.schema}.${t} WHERE pipeline = $1 GROUP BY day ORDER BY day`, [pipeline])) {
        (days[String(r.day)] ??= {})[t] = Number(r.n);
      }
    }
    const pruned = await db.query(`SELECT day FROM ${this.schema}.pruned_days WHERE pipeline = $1 ORDER BY day`, [pipeline]);
    return { days, pruned: pruned.map((r) => String(r.day)) };
  }

  /** Each pipeline's watermark (a pipeline without one has no sealed day: nothing of it goes). */
  private async watermarks(db: SqlDriver, pipelines?: readonly string[]): Promise<{ pipeline: string; w: number }[]> {
    const rows = await db.query(`SELECT pipeline, watermark FROM ${this.schema}.watermarks ORDER BY pipeline`);
    return rows.map((r) => ({ pipeline: String(r.pipeline), w: Number(r.watermark) })).filter((r) => pipelines === undefined || pipelines.includes(r.pipeline));
  }

  /**
   * The day's superseded versions past the newest `keep`: never the live one, never the one a revert
   * switches back to (the last switch's `previous`), never one already pruned.
   */
  private async supersededBeyond(db: SqlDriver, pipeline: string, day: string, keep: number): Promise<number[]> {
    const s = this.schema;
    const live = Number((await db.query(`SELECT generation FROM ${s}.day_live WHERE pipeline = $1 AND day = $2`, [pipeline, day]))[0]?.generation ?? 0);
    const last = await db.query(`SELECT previous FROM ${s}.switch_log WHERE pipeline = $1 AND day = $2 ORDER BY seq DESC LIMIT 1`, [pipeline, day]);
    const revertTo = last[0] ? Number(last[0].previous) : 0;
    const rows = await db.query(`SELECT generation FROM ${s}.day_versions WHERE pipeline = $1 AND day = $2 AND status <> 'pruned' ORDER BY generation DESC`, [pipeline, day]);
    const superseded = rows.map((r) => Number(r.generation)).filter((g) => g !== live && g !== revertTo);
    return superseded.slice(keep).sort((a, b) => a - b);
  }

  /** The rows a day's prune deletes, per table (`versions` null: the whole day). */
  private async dayPlan(db: SqlDriver, pipeline: string, day: string, versions: number[] | null): Promise<PruneDay> {
    const s = this.schema;
    const rows: PruneDay['rows'] = {};
    const count = async (t: string, where = '', params: SqlValue[] = [pipeline, day]) =>
      Number((await db.query(`SELECT count(*) AS n FROM ${s}.${t} WHERE pipeline = $1 AND day = $2 ${where}`, params))[0]?.n ?? 0);
    const rowsIn = async (t: string, generations: readonly number[]) => {
      const [where, params] = dayRows(t, pipeline, day, generations);
      return Number((await db.query(`SELECT count(*) AS n FROM ${s}.${t} WHERE ${where}`, params))[0]?.n ?? 0);
    };
    if (versions === null) {
      const all = await db.query(`SELECT generation FROM ${s}.day_versions WHERE pipeline = $1 AND day = $2 ORDER BY generation`, [pipeline, day]);
      const generations = [0, ...all.map((r) => Number(r.generation))];
      for (const t of DAY_TABLES) rows[t] = await rowsIn(t, generations);
      return { pipeline, day, whole: true, versions: generations, rows };
    }
    const [inList, params] = versionsIn(versions, [pipeline, day]);
    for (const t of ['result_rows', 'result_history'] as const) rows[t] = await rowsIn(t, versions);
    rows.reconciliations = await count('reconciliations', `AND generation IN ${inList} AND at_ms < (SELECT max(at_ms) FROM ${s}.reconciliations WHERE pipeline = $1 AND day = $2)`, params);
    return { pipeline, day, whole: false, versions, rows };
  }
}

/** The first day kept whole under `keepDays` at watermark `w`: a day ending at or before `w - keepDays` goes. */
export function oldestKept(w: number, keepDays: number): string {
  return new Date(Math.floor((w - keepDays * DAY) / DAY) * DAY).toISOString().slice(0, 10);
}

/**
 * The rows of a day in table `t` (of `generations`, for the two row tables): a row's day is the UTC day of
 * its window start (alerts: their ts), so the row tables are read by a range of their primary key
 * (pipeline, generation, window_start, ...) rather than scanned for the day (PostgreSQL; measured: 7 days of
 * 72,000 rows each pruned from 720,000 in 8.5 s by `day`, see docs/operations.md for the range's).
 */
function dayRows(t: string, pipeline: string, day: string, generations: readonly number[]): [string, SqlValue[]] {
  if (t !== 'result_rows' && t !== 'result_history') return ['pipeline = $1 AND day = $2', [pipeline, day]];
  const from = Date.parse(`${day}T00:00:00.000Z`);
  const [inList, params] = versionsIn(generations, [pipeline, day, from, from + DAY]);
  return [`pipeline = $1 AND generation IN ${inList} AND window_start >= $3 AND window_start < $4 AND day = $2`, params];
}

/** `(…)` of version numbers as parameters after `params`. */
function versionsIn(versions: readonly number[], params: SqlValue[]): [string, SqlValue[]] {
  return [`(${versions.map((_, i) => `$${params.length + i + 1}`).join(', ')})`, [...params, ...versions]];
}

/** A write (reconcile, backfill) into a day the retention deleted: its stream rows are gone, so refused. */
export async function refusePrunedDay(tx: SqlDriver, schema: string, pipeline: string, day: string): Promise<void> {
  const rows = await tx.query(`SELECT pruned_at FROM ${schema}.pruned_days WHERE pipeline = $1 AND day = $2`, [pipeline, day]);
  if (rows[0]) {
    throw new ConcordError(`${pipeline} ${day} was deleted by the store's retention at ${new Date(Number(rows[0].pruned_at)).toISOString()} (keepDays): its stream rows are gone, so it is not reconciled or backfilled again`, { domain: 'user' });
  }
}

/** Per pipeline: the whole days, the versions of other days, and the rows per table, of `days`. */
export interface PruneSummary { wholeDays: string[]; versions: number; versionDays: number; rows: Record<string, number> }

export function summarize(days: readonly PruneDay[]): Map<string, PruneSummary> {
  const out = new Map<string, PruneSummary>();
  for (const d of days) {
    let s = out.get(d.pipeline);
    if (!s) out.set(d.pipeline, (s = { wholeDays: [], versions: 0, versionDays: 0, rows: {} }));
    if (d.whole) s.wholeDays.push(d.day);
    else { s.versions += d.versions.length; s.versionDays++; }
    for (const [t, n] of Object.entries(d.rows)) if (n) s.rows[t] = (s.rows[t] ?? 0) + n;
  }
  return out;
}

/** One line per pipeline of a summary, e.g. `p: 12 days whole (2026-01-01 .. 2026-01-12), 3 versions of 2 days; 1,204 rows (result_rows 1,000, ...)`. */
export function describeSummary(summary: ReadonlyMap<string, PruneSummary>): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  return [...summary].map(([pipeline, s]) => {
    const parts: string[] = [];
    if (s.wholeDays.length > 0) parts.push(`${s.wholeDays.length} day${s.wholeDays.length === 1 ? '' : 's'} whole (${s.wholeDays[0]}${s.wholeDays.length > 1 ? ` .. ${s.wholeDays.at(-1)}` : ''})`);
    if (s.versions > 0) parts.push(`${s.versions} superseded version${s.versions === 1 ? '' : 's'} of ${s.versionDays} day${s.versionDays === 1 ? '' : 's'}`);
    const total = Object.values(s.rows).reduce((a, b) => a + b, 0);
    const tables = Object.entries(s.rows).sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, x]) => `${t} ${n(x)}`).join(', ');
    return `${pipeline}: ${parts.join(', ')}; ${n(total)} rows${tables ? ` (${tables})` : ''}`;
  });
}

/** What a prune needs of the store (SqlResultStore). */
export interface PrunableStore {
  prunePlan(policy: RetentionPolicy, pipelines?: readonly string[]): Promise<PruneDay[]>;
  pruneDay(policy: RetentionPolicy, pipeline: string, day: string): Promise<PruneDay | null>;
  /** The stream's verdicts on events the retention deletes, per input schema (verdict-retention.ts). */
  verdictPlan(policy: RetentionPolicy, pipelines?: readonly string[]): Promise<PruneVerdicts[]>;
  pruneVerdicts(policy: RetentionPolicy, schema: string): Promise<PruneVerdicts | null>;
  checkpoint(): Promise<void>;
}

/**
 * Plans and prunes: one transaction per day (`onDay` hears each, with how many of the plan are done),
 * then one per input schema for the stream's verdicts on its events, then a checkpoint (DuckDB folds the
 * deletions into its file). What was deleted, per day and per schema.
 */
export async function pruneStore(store: PrunableStore, policy: RetentionPolicy, o: { pipelines?: readonly string[]; onDay?: (done: number, total: number, day: PruneDay | null) => void | Promise<void> } = {}): Promise<{ days: PruneDay[]; verdicts: PruneVerdicts[] }> {
  const plan = await store.prunePlan(policy, o.pipelines);
  const days: PruneDay[] = [];
  for (const [i, d] of plan.entries()) {
    const pruned = await store.pruneDay(policy, d.pipeline, d.day);
    if (pruned) days.push(pruned);
    await o.onDay?.(i + 1, plan.length, pruned);
  }
  const verdicts: PruneVerdicts[] = [];
  for (const v of await store.verdictPlan(policy, o.pipelines)) {
    const pruned = await store.pruneVerdicts(policy, v.schema);
    if (pruned) verdicts.push(pruned);
  }
  if (days.length > 0 || verdicts.length > 0) await store.checkpoint();
  return { days, verdicts };
}
