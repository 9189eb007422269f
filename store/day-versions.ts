import { ConcordError } from '../pipeline/errors.ts';
import { paneId } from '../pipeline/keys.ts';
import type { Registry } from '../pipeline/registry.ts';
import { sameValuesOf } from '../pipeline/same-values.ts';
import type { DirtyCell } from '../reconcile/reconcile-day.ts';
import type { KeyValues, ResultRecord } from '../schemas/results.ts';
import { changedRowsOf, COLUMNS, keepReplaced, recordChanges, stageRows, upsertRows, type ChangeToRecord } from './bulk-write.ts';
import { consumeDirty } from './dirty-cells.ts';
import { toRow, type Provenance, type StoredRow } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';

/**
 * The versions of a (pipeline, day) after the stream's: a reconciliation stages generation g with all
 * of the day's cells and switches readers to it in the same transaction (`day_live`: readers see the old
 * version or the new one, never a mix), a revert switches back, a backfill upserts recomputed cells
 * into the live version. Every switch publishes old -> new for each visible cell that changes. Each
 * method runs inside the caller's transaction (SqlResultStore: the live index is reloaded after it).
 */
/**
 * What a publish did. `ownSwitch`: the live version already held the replay and was staged by this very
 * job id, switched to by an earlier attempt (from `previous`, `corrections` changed): the caller knows
 * whether that attempt's record was saved or its answer lost.
 */
export interface PublishOutcome {
  generation: number;
  previous: number;
  corrections: number;
  ownSwitch?: { previous: number; corrections: number };
}

export class DayVersions {
  /**
   * `keyless`: result_rows and result_history have no primary key (SqlResultStore.init). `registry`: a
   * cell whose JSON differs only in a `double` sum's last bits (another order of additions) is no change.
   */
  constructor(private readonly schema: string, private readonly keyless: boolean, private readonly registry: Registry) {}

  /** Whether two value records of the pipeline are the same numbers (pipeline/same-values.ts); exact for one the definitions no longer name. */
  private sameValues(pipeline: string): (x: Readonly<Record<string, unknown>>, y: Readonly<Record<string, unknown>>) => boolean {
    const def = this.registry.pipelines.find((p) => p.name === pipeline);
    return def ? sameValuesOf(def) : () => false;
  }

  /**
   * Stages the day's reconciled version and switches readers to it. A retried job whose version is live
   * with these very values: nothing to do. The same job id with other values (archive files added since:
   * `reconcile --date` run again under its default id) is no retry: a new version.
   */
  async publish(tx: SqlDriver, pipeline: string, day: string, records: readonly ResultRecord[], meta: { jobId: string; provenance: 'reconciled' }, at: number): Promise<PublishOutcome> {
    let mine = await tx.query(`SELECT generation, status FROM ${this.schema}.day_versions WHERE pipeline = $1 AND day = $2 AND job_id = $3 ORDER BY generation DESC LIMIT 1`, [pipeline, day, meta.jobId]);
    const previous = await this.liveGeneration(tx, pipeline, day);
    // A live reconciled version that already holds the replay, whichever job published it (a retried job, or
    // the nightly job after a CLI reconcile: other job ids), stays: another identical version is history noise.
    // The stream's version 0 never does: the first reconcile marks the day reconciled.
    if (previous > 0 && (await this.holdsValues(tx, pipeline, day, previous, records))) {
      await this.coveredDirtyCells(tx, pipeline, day, at);
      // This job's own live version: an attempt whose COMMIT went through but whose answer was lost may be
      // being retried (the caller knows whether that attempt's record was saved); what its switch corrected.
      if (mine[0] === undefined || Number(mine[0].generation) !== previous) return { generation: previous, previous, corrections: 0 };
      const [switched] = await tx.query(`SELECT count(*) AS n FROM ${this.schema}.changes WHERE pipeline = $1 AND day = $2 AND generation = $3 AND provenance = $4`,
        [pipeline, day, previous, meta.provenance]);
      const [from] = await tx.query(`SELECT previous FROM ${this.schema}.switch_log WHERE pipeline = $1 AND day = $2 AND generation = $3 AND reason = 'reconcile' ORDER BY seq DESC LIMIT 1`,
        [pipeline, day, previous]);
      return { generation: previous, previous, corrections: 0, ownSwitch: { previous: from ? Number(from.previous) : previous, corrections: Number(switched!.n) } };
    }
    if (mine[0] && Number(mine[0].generation) === previous) mine = [];
    // Only a version of this job never switched to may be filled again. One that was live and is not now
    // (a revert, a backfill's version or another job switched away from it) was seen by readers and stays
    // as it was: upserting the replay into it kept its rows (revision 0 replaces no revision 0) and its
    // withdrawn alerts, and switched readers back to that stale version.
    const generation = mine[0] && String(mine[0].status) === 'staged' ? Number(mine[0].generation) : await this.stageVersion(tx, pipeline, day, meta.jobId, at);
    const rows = records.map((r) => toRow(r, { generation, provenance: meta.provenance, writtenAt: at, jobId: meta.jobId }))
      .filter((r) => r.pipeline === pipeline && r.day === day)
      .map((r) => ({ ...r, revision: 0 }));
    const stage = await stageRows(tx, this.schema, rows.map((row) => ({ row })));
    await keepReplaced(tx, this.schema, stage, { keyless: this.keyless });
    await upsertRows(tx, this.schema, stage, { keyless: this.keyless });
    const corrections = await this.switchTo(tx, pipeline, day, generation, previous, 'reconcile', meta.provenance, at);
    await this.coveredDirtyCells(tx, pipeline, day, at);
    return { generation, previous, corrections };
  }

  /** The reconciliation read the whole archive: cells dirtied before it are covered. */
  private async coveredDirtyCells(tx: SqlDriver, pipeline: string, day: string, at: number): Promise<void> {
    await tx.execute(`DELETE FROM ${this.schema}.dirty_cells WHERE pipeline = $1 AND day = $2 AND recorded_at <= $3`, [pipeline, day, at]);
  }

  /** Registers the day's next version (staged until a switch makes it live) for `jobId`; its number. */
  private async stageVersion(tx: SqlDriver, pipeline: string, day: string, jobId: string, at: number): Promise<number> {
    const generation = Number((await tx.query(`SELECT coalesce(max(generation), 0) + 1 AS g FROM ${this.schema}.day_versions WHERE pipeline = $1 AND day = $2`, [pipeline, day]))[0]!.g);
    await tx.query(`INSERT INTO ${this.schema}.day_versions (pipeline, day, generation, status, job_id, created_at) VALUES ($1, $2, $3, 'staged', $4, $5)`, [pipeline, day, generation, jobId, at]);
    return generation;
  }

  /**
   * Whether version `generation` of the day holds exactly `records`' cells with the same numbers, computed
   * by the same definition (a recompute under a changed definition with equal numbers is a new version).
   */
  private async holdsValues(tx: SqlDriver, pipeline: string, day: string, generation: number, records: readonly ResultRecord[]): Promise<boolean> {
    const rows = records.map((r) => toRow(r, { generation, writtenAt: 0 })).filter((r) => r.pipeline === pipeline && r.day === day);
    const versions = [...new Set(rows.map((r) => r.definitionVersion))];
    if (versions.length > 1) return false;
    const [held] = await tx.query(`SELECT count(*) AS n, count(*) FILTER (WHERE definition_version <> $4) AS other FROM ${this.schema}.result_rows
      WHERE pipeline = $1 AND day = $2 AND generation = $3`, [pipeline, day, generation, versions[0] ?? '']);
    if (Number(held!.n) !== rows.length || (rows.length > 0 && Number(held!.other) > 0)) return false;
    const same = this.sameValues(pipeline);
    return (await changedRowsOf(tx, this.schema, pipeline, generation, rows)).every(({ row, old }) => old !== null && same(old.values, row.values));
  }

  /** Makes the version that was live before the current one live again (one atomic switch). */
  async revert(tx: SqlDriver, pipeline: string, day: string, at: number): Promise<{ from: number; to: number; corrections: number }> {
    const last = await tx.query(`SELECT generation, previous FROM ${this.schema}.switch_log WHERE pipeline = $1 AND day = $2 ORDER BY seq DESC LIMIT 1`, [pipeline, day]);
    if (!last[0]) throw new Error(`${pipeline} ${day}: no version was ever switched to, nothing to revert`);
    const from = Number(last[0].generation), to = Number(last[0].previous);
    const corrections = await this.switchTo(tx, pipeline, day, to, from, 'revert', 'revert', at);
    return { from, to, corrections };
  }

  /**
   * Upserts recomputed cells into the day's live version (provenance `backfill`) and consumes the dirty
   * cells read for them, in one transaction of set-based statements; `progress` hears each step. A rule
   * key that lost an alert makes a new version instead (`backfillAsVersion`).
   */
  async backfill(tx: SqlDriver, pipeline: string, day: string, records: readonly ResultRecord[], consumed: readonly DirtyCell[], meta: { jobId: string; progress?: (what: string) => void | Promise<void> }, at: number): Promise<{ changed: number }> {
    const generation = await this.liveGeneration(tx, pipeline, day);
    if (generation === 0 && await this.reconciledBefore(tx, pipeline, day)) {
      // The stream's own record stays its own (reconcile/backfill-day.ts skips such a day before this).
      throw new ConcordError(`${pipeline} ${day} was reverted to the stream's own version (0): a backfill does not write into it; reconcile the day again`, { domain: 'user' });
    }
    const rows = records.map((r) => toRow(r, { generation, provenance: 'backfill', writtenAt: at, jobId: meta.jobId })).filter((r) => r.day === day);
    const withdrawn = await this.withdrawnAlerts(tx, pipeline, day, generation, rows, consumed);
    if (withdrawn.length > 0) return this.backfillAsVersion(tx, pipeline, day, generation, rows, withdrawn, consumed, meta, at);
    const next: StoredRow[] = [];
    const changes: ChangeToRecord[] = [];
    const same = this.sameValues(pipeline);
    for (const { row, old } of await changedRowsOf(tx, this.schema, pipeline, generation, rows)) {
      if (old && same(old.values, row.values)) continue; // the text differs, not the numbers: the live row stays
      next.push({ ...row, revision: old ? old.revision + 1 : 0 });
      changes.push({ cell: row, old: old?.values ?? null, next: row.values });
    }
    await meta.progress?.(`${rows.length} recomputed cells compared with the live version: ${changes.length} changed`);
    await recordChanges(tx, this.schema, changes, 'backfill', generation, at);
    if (next.length > 0) {
      const stage = await stageRows(tx, this.schema, next.map((row) => ({ row })));
      await keepReplaced(tx, this.schema, stage, { keyless: this.keyless });
      await upsertRows(tx, this.schema, stage, { keyless: this.keyless });
    }
    await meta.progress?.(`${changes.length} changed cells written; consuming ${consumed.length} dirty cells`);
    await consumeDirty(tx, this.schema, pipeline, consumed);
    await tx.query(`DELETE FROM ${this.schema}.late_delta WHERE pipeline = $1 AND day = $2`, [pipeline, day]);
    return { changed: changes.length };
  }

  /**
   * Rules: the live alerts of the recomputed keys that the recomputation no longer raises (a late event
   * moved a crossing earlier: one alert per crossing). Windows never lose a cell to more events.
   */
  private async withdrawnAlerts(tx: SqlDriver, pipeline: string, day: string, generation: number, rows: readonly StoredRow[], consumed: readonly DirtyCell[]): Promise<{ windowStart: number; cell: string }[]> {
    const def = this.registry.pipelines.find((p) => p.name === pipeline);
    if (def?.kind !== 'rule' || consumed.length === 0) return [];
    const keys = new Set(consumed.map((d) => paneId([def.key], d.key)));
    const raised = new Set(rows.map((r) => r.cell));
    const live = await tx.query(`SELECT window_start, cell, key_json FROM ${this.schema}.result_rows WHERE pipeline = $1 AND day = $2 AND generation = $3 AND kind = 'alert'`, [pipeline, day, generation]);
    return live.filter((r) => !raised.has(String(r.cell)) && keys.has(paneId([def.key], JSON.parse(String(r.key_json)) as KeyValues)))
      .map((r) => ({ windowStart: Number(r.window_start), cell: String(r.cell) }));
  }

  /**
   * A backfill that withdraws alerts: a row cannot leave a version readers saw (as-of reads would still
   * find it in the history), so the corrected day becomes a new version — the live one's rows, minus the
   * withdrawn alerts, with the recomputed ones — switched to atomically (`revert` goes back).
   */
  private async backfillAsVersion(
    tx: SqlDriver, pipeline: string, day: string, from: number, rows: readonly StoredRow[], withdrawn: readonly { windowStart: number; cell: string }[],
    consumed: readonly DirtyCell[], meta: { jobId: string; progress?: (what: string) => void | Promise<void> }, at: number,
  ): Promise<{ changed: number }> {
    const to = await this.stageVersion(tx, pipeline, day, meta.jobId, at);
    const copied = COLUMNS.map((c) => (c === 'generation' ? `${to} AS generation` : c)).join(', ');
    await tx.execute(`INSERT INTO ${this.schema}.result_rows (${COLUMNS.join(', ')}) SELECT ${copied} FROM ${this.schema}.result_rows WHERE pipeline = $1 AND day = $2 AND generation = $3`, [pipeline, day, from]);
    for (const w of withdrawn) {
      await tx.execute(`DELETE FROM ${this.schema}.result_rows WHERE pipeline = $1 AND generation = $2 AND window_start = $3 AND cell = $4`, [pipeline, to, w.windowStart, w.cell]);
    }
    const next = (await changedRowsOf(tx, this.schema, pipeline, to, rows)).map(({ row, old }) => ({ ...row, generation: to, revision: old ? old.revision + 1 : 0 }));
    if (next.length > 0) await upsertRows(tx, this.schema, await stageRows(tx, this.schema, next.map((row) => ({ row }))), { keyless: this.keyless });
    await meta.progress?.(`${withdrawn.length} alerts withdrawn and ${next.length} recomputed: the day's version ${to} (was ${from}) made live`);
    const changed = await this.switchTo(tx, pipeline, day, to, from, 'backfill', 'backfill', at);
    await consumeDirty(tx, this.schema, pipeline, consumed);
    await tx.query(`DELETE FROM ${this.schema}.late_delta WHERE pipeline = $1 AND day = $2`, [pipeline, day]);
    return { changed };
  }

  /** Whether the day shows the stream's version (0) again after a reconciled one: a revert went back to it. */
  async revertedToStream(tx: SqlDriver, pipeline: string, day: string): Promise<boolean> {
    return (await this.liveGeneration(tx, pipeline, day)) === 0 && this.reconciledBefore(tx, pipeline, day);
  }

  /** Whether any version of the day was ever published (every published version is 1 or higher). */
  private async reconciledBefore(tx: SqlDriver, pipeline: string, day: string): Promise<boolean> {
    return (await tx.query(`SELECT 1 AS x FROM ${this.schema}.day_versions WHERE pipeline = $1 AND day = $2 LIMIT 1`, [pipeline, day])).length > 0;
  }

  /** The day's live generation (0: the stream's rows). */
  async liveGeneration(tx: SqlDriver, pipeline: string, day: string): Promise<number> {
    const rows = await tx.query(`SELECT generation FROM ${this.schema}.day_live WHERE pipeline = $1 AND day = $2`, [pipeline, day]);
    return rows[0] ? Number(rows[0].generation) : 0;
  }

  /** Makes `to` the day's live generation; publishes old -> new for every visible cell that changes. */
  private async switchTo(tx: SqlDriver, pipeline: string, day: string, to: number, from: number, reason: string, provenance: Provenance | 'revert', at: number): Promise<number> {
    // The cells whose visible value changes, found by one join in the database: a day has ~200k cells
    // and a reconcile changes a few thousand (reading both versions into JS took 3.5 s each).
    const rows = await tx.query(
      `SELECT coalesce(n.window_start, o.window_start) AS window_start, coalesce(n.cell, o.cell) AS cell, coalesce(n.key_json, o.key_json) AS key_json,
         o.values_json AS old_json, n.values_json AS new_json
       FROM (SELECT window_start, cell, key_json, values_json FROM ${this.schema}.result_rows WHERE pipeline = $1 AND day = $2 AND generation = $3) o
       FULL OUTER JOIN (SELECT window_start, cell, key_json, values_json FROM ${this.schema}.result_rows WHERE pipeline = $1 AND day = $2 AND generation = $4) n
         ON o.window_start = n.window_start AND o.cell = n.cell
       WHERE o.cell IS NULL OR n.cell IS NULL OR o.values_json <> n.values_json`, [pipeline, day, from, to]);
    const parse = (json: unknown) => (json === null || json === undefined ? null : (JSON.parse(String(json)) as Record<string, unknown>));
    const same = this.sameValues(pipeline);
    const changes: ChangeToRecord[] = rows.map((r) => ({
      cell: { pipeline, day, windowStart: Number(r.window_start), cell: String(r.cell), key: JSON.parse(String(r.key_json)) as KeyValues },
      old: parse(r.old_json), next: parse(r.new_json),
    })).filter((c) => c.old === null || c.next === null || !same(c.old, c.next));
    // Changes in window, then key order (JS string order, as every other listing of cells).
    changes.sort((a, b) => a.cell.windowStart - b.cell.windowStart || (a.cell.cell < b.cell.cell ? -1 : a.cell.cell > b.cell.cell ? 1 : 0));
    const corrections = changes.length;
    await recordChanges(tx, this.schema, changes, provenance, to, at);
    await tx.query(
      `INSERT INTO ${this.schema}.day_live (pipeline, day, generation, switched_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (pipeline, day) DO UPDATE SET generation = excluded.generation, switched_at = excluded.switched_at`, [pipeline, day, to, at]);
    await tx.query(
      `INSERT INTO ${this.schema}.switch_log (seq, pipeline, day, generation, previous, reason, at_ms) VALUES (nextval('${this.schema}.change_seq'), $1, $2, $3, $4, $5, $6)`,
      [pipeline, day, to, from, reason, at]);
    // A version the retention pruned stays `pruned` (its number is never given again: stageVersion counts it).
    await tx.query(`UPDATE ${this.schema}.day_versions SET status = CASE WHEN generation = $3 THEN 'live' WHEN status = 'pruned' THEN 'pruned' ELSE 'kept' END WHERE pipeline = $1 AND day = $2`, [pipeline, day, to]);
    return corrections;
  }
}
