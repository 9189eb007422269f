import type { Registry } from '../pipeline/registry.ts';
import type { DayReconciliation } from '../reconcile/day-report.ts';
import type { LoggedLate } from '../reconcile/reconcile.ts';
import type { DirtyCell } from '../reconcile/reconcile-day.ts';
import type { KeyValues, ResultRecord } from '../schemas/results.ts';
import { dayStatusOf, isSealed, windowOf, type DayStatusName } from './day-status.ts';
import { rowFromDb, toRecord, type Provenance, type StoredRow } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';
import { everyVersion } from './store-tables.ts';

/** One published old -> new change of a visible cell. */
export interface Change {
  seq: number;
  pipeline: string;
  day: string;
  windowStart: number;
  cell: string;
  key: KeyValues;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
  provenance: Provenance | 'revert';
  generation: number;
  at: number;
}

export interface DayStatus {
  pipeline: string;
  day: string;
  /** provisional, reconciled or sealed (day-status.ts: the API's and the metrics' vocabulary too). */
  status: DayStatusName;
  /** The watermark passed the end of the day plus the seal delay. */
  sealed: boolean;
  liveGeneration: number;
  generations: number[];
  lateDelta: number;
  dirty: number;
  watermark: number | null;
}

/**
 * The version a reconciliation replaced; null when it replaced none: a failed one published nothing
 * (its stored record says -1).
 */
export function previousVersionOf(rec: Pick<DayReconciliation, 'generation' | 'previous_generation'>): number | null {
  return rec.generation === null || rec.previous_generation < 0 ? null : rec.previous_generation;
}

/** A dirty or contradicted cell as stored (`window_start`, `key_json`, `recorded_at`). */
const cellOfRow = (pipeline: string, r: Record<string, unknown>): DirtyCell =>
  ({ pipeline, windowStart: Number(r.window_start), key: JSON.parse(String(r.key_json)) as KeyValues, recordedAt: Number(r.recorded_at) });

/**
 * The reads of the result store on the writer's connection (SqlResultStore delegates to it): a day's rows
 * (live, as of an instant, the stream's own), late events, published changes, watermarks, a day's
 * status, dirty cells and reconciliation reports. `concord serve` reads through StoreReader instead.
 */
export class StoreReads {
  /** `s`: the store's schema, checked by SqlResultStore. */
  constructor(private readonly db: SqlDriver, private readonly s: string, private readonly registry: Registry, private readonly sealDelayMs: number) {}

  /** What readers see now: per cell of the day, its row in the day's live generation. */
  async current(pipeline: string, day: string): Promise<StoredRow[]> {
    const rows = await this.db.query(
      `SELECT r.* FROM ${this.s}.result_rows r
       WHERE r.pipeline = $1 AND r.day = $2
         AND r.generation = coalesce((SELECT generation FROM ${this.s}.day_live WHERE pipeline = $1 AND day = $2), 0)
       ORDER BY r.window_start, r.cell`, [pipeline, day]);
    return rows.map(rowFromDb);
  }

  /**
   * `current` a part at a time (`concord report --format csv|json` writes a day of any size), the same
   * rows in the same order on one snapshot: DuckDB's streaming result (one scan; pages re-sorted the
   * rest of the day each), else keyset pages of `pageRows` (PostgreSQL: a range of the primary key,
   * which the row comparison reads as one: written as `a > x OR (a = x AND b > y)`, each page took a
   * bitmap scan and sort of the rest of the day, 420 ms against 4 ms for a page of 277k-cell day).
   */
  async *currentInParts(pipeline: string, day: string, pageRows: number): AsyncIterable<StoredRow[]> {
    const page = (after: StoredRow | undefined) => `SELECT r.* FROM ${this.s}.result_rows r
       WHERE r.pipeline = $1 AND r.day = $2
         AND r.generation = coalesce((SELECT generation FROM ${this.s}.day_live WHERE pipeline = $1 AND day = $2), 0)
         ${after ? 'AND (r.window_start, r.cell) > ($3, $4)' : ''}
       ORDER BY r.window_start, r.cell${this.db.queryChunks ? '' : ` LIMIT ${Math.max(1, Math.floor(pageRows))}`}`;
    if (this.db.queryChunks) {
      for await (const rows of this.db.queryChunks(page(undefined), [pipeline, day])) yield rows.map(rowFromDb);
      return;
    }
    for (let after: StoredRow | undefined; ;) {
      const rows = (await this.db.query(page(after), after ? [pipeline, day, after.windowStart, after.cell] : [pipeline, day])).map(rowFromDb);
      yield rows;
      if (rows.length < pageRows) return;
      after = rows.at(-1);
    }
  }

  /** What readers saw at `instant`: the generation live then, each cell at its latest revision written by then. */
  async asOfRows(pipeline: string, day: string, instant: number): Promise<StoredRow[]> {
    const rows = await this.db.query(
      `WITH g AS (
         SELECT coalesce((SELECT generation FROM ${this.s}.switch_log WHERE pipeline = $1 AND day = $2 AND at_ms <= $3 ORDER BY seq DESC LIMIT 1), 0) AS generation),
       h AS (
         SELECT r.*, row_number() OVER (PARTITION BY r.window_start, r.cell ORDER BY r.revision DESC, r.replaced) AS rn
         FROM (${everyVersion(this.s)}) r, g
         WHERE r.pipeline = $1 AND r.day = $2 AND r.generation = g.generation AND r.written_at <= $3)
       SELECT * FROM h WHERE rn = 1 ORDER BY window_start, cell`, [pipeline, day, instant]);
    return rows.map(rowFromDb);
  }

  async asOf(pipeline: string, day: string, instant: number): Promise<ResultRecord[]> {
    const def = this.registry.pipeline(pipeline);
    return (await this.asOfRows(pipeline, day, instant)).map((r) => toRecord(r, def));
  }

  async realtimeResults(pipeline: string, day: string): Promise<ResultRecord[]> {
    const def = this.registry.pipeline(pipeline);
    const rows = await this.db.query(
      `SELECT * FROM ${this.s}.result_rows WHERE pipeline = $1 AND day = $2 AND generation = 0 ORDER BY window_start, cell`, [pipeline, day]);
    return rows.map((r) => toRecord(rowFromDb(r), def));
  }

  async lateEvents(pipeline: string, day: string): Promise<LoggedLate[]> {
    const rows = await this.db.query(`SELECT record_json FROM ${this.s}.late_events WHERE pipeline = $1 AND day = $2 ORDER BY source, "offset"`, [pipeline, day]);
    return rows.map((r) => {
      const x = JSON.parse(String(r.record_json)) as { evaluated_on_arrival: boolean; record: LoggedLate['record']; decided_after_wakeup?: { at: number | null; order: number } };
      const woke = x.decided_after_wakeup;
      // JSON holds no infinity: a clock at +infinity (every partition drained) reads back as null.
      return { evaluatedOnArrival: x.evaluated_on_arrival, record: x.record, ...(woke ? { decidedAfterWakeup: { at: woke.at ?? Number.POSITIVE_INFINITY, order: woke.order } } : {}) };
    });
  }

  async changesSince(seq: number, limit = 1000): Promise<Change[]> {
    const rows = await this.db.query(`SELECT * FROM ${this.s}.changes WHERE seq > $1 ORDER BY seq LIMIT ${Math.max(1, Math.floor(limit))}`, [seq]);
    return rows.map((x) => ({
      seq: Number(x.seq), pipeline: String(x.pipeline), day: String(x.day), windowStart: Number(x.window_start), cell: String(x.cell),
      key: JSON.parse(String(x.key_json)) as KeyValues,
      old: x.old_json === null ? null : (JSON.parse(String(x.old_json)) as Record<string, unknown>),
      new: x.new_json === null ? null : (JSON.parse(String(x.new_json)) as Record<string, unknown>),
      provenance: String(x.provenance) as Change['provenance'], generation: Number(x.generation), at: Number(x.at_ms),
    }));
  }

  async watermark(pipeline: string): Promise<number | null> {
    const rows = await this.db.query(`SELECT watermark FROM ${this.s}.watermarks WHERE pipeline = $1`, [pipeline]);
    return rows[0] ? Number(rows[0].watermark) : null;
  }

  /** The first day the stream wrote rows of `pipeline` (version 0; a day retention pruned counts); null: none. */
  async firstStreamDay(pipeline: string): Promise<string | null> {
    const pruned = !(await this.hasPrunedDays()) ? '' : ` UNION ALL SELECT min(day) FROM ${this.s}.pruned_days WHERE pipeline = $1`;
    const rows = await this.db.query(
      `SELECT min(day) AS day FROM (SELECT min(day) AS day FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0${pruned}) d`, [pipeline]);
    return rows[0]?.day === null || rows[0]?.day === undefined ? null : String(rows[0].day);
  }

  async status(pipeline: string, day: string): Promise<DayStatus> {
    const [live, gens, delta, dirty, w] = await Promise.all([
      this.db.query(`SELECT generation FROM ${this.s}.day_live WHERE pipeline = $1 AND day = $2`, [pipeline, day]),
      this.db.query(`SELECT generation FROM ${this.s}.day_versions WHERE pipeline = $1 AND day = $2 ORDER BY generation`, [pipeline, day]),
      this.db.query(`SELECT n FROM ${this.s}.late_delta WHERE pipeline = $1 AND day = $2`, [pipeline, day]),
      this.db.query(`SELECT count(*) AS n FROM ${this.s}.dirty_cells WHERE pipeline = $1 AND day = $2 AND consumed_by IS NULL`, [pipeline, day]),
      this.watermark(pipeline),
    ]);
    const sealed = isSealed(day, w, this.sealDelayMs, windowOf(this.registry, pipeline));
    const liveGeneration = live[0] ? Number(live[0].generation) : 0;
    return {
      pipeline, day, status: dayStatusOf({ sealed, liveGeneration }), sealed, liveGeneration, generations: gens.map((g) => Number(g.generation)),
      lateDelta: delta[0] ? Number(delta[0].n) : 0, dirty: Number(dirty[0]?.n ?? 0), watermark: w,
    };
  }

  /** Whether the day is sealed yet (what a reconciliation records as its `day_status`). */
  async dayStatus(pipeline: string, day: string): Promise<'provisional' | 'sealed'> {
    return (await this.status(pipeline, day)).sealed ? 'sealed' : 'provisional';
  }

  async dirtyCells(pipeline: string, day: string): Promise<DirtyCell[]> {
    const rows = await this.db.query(
      `SELECT window_start, key_json, recorded_at FROM ${this.s}.dirty_cells WHERE pipeline = $1 AND day = $2 AND consumed_by IS NULL ORDER BY window_start, cell`, [pipeline, day]);
    return rows.map((r) => cellOfRow(pipeline, r));
  }

  /** Cells of the day whose stream rows another run contradicted (backfilled, reconciled or not): reconcile's `other_run`. */
  async contradictedCells(pipeline: string, day: string): Promise<DirtyCell[]> {
    const rows = await this.db.query(
      `SELECT window_start, key_json, recorded_at FROM ${this.s}.contradicted_cells WHERE pipeline = $1 AND day = $2 ORDER BY window_start, cell`, [pipeline, day]);
    return rows.map((r) => cellOfRow(pipeline, r));
  }

  /** Days with unconsumed dirty cells, each with when its newest one was recorded (backfill job ids). */
  async dirtyDays(pipeline: string): Promise<Map<string, number>> {
    const rows = await this.db.query(
      `SELECT day, max(recorded_at) AS at_ms FROM ${this.s}.dirty_cells WHERE pipeline = $1 AND consumed_by IS NULL GROUP BY day ORDER BY day`, [pipeline]);
    return new Map(rows.map((r) => [String(r.day), Number(r.at_ms)]));
  }

  /**
   * Whether the store holds nothing of the pipeline's day: no stream row, late event, version,
   * reconciliation (a failed one too), dirty cell or late-delta. What `report` and `/api/days/{date}`
   * call empty (a day nothing reached is still `sealed` once W passed it).
   */
  async holdsNothing(pipeline: string, day: string): Promise<boolean> {
    const from = Date.parse(`${day}T00:00:00.000Z`);
    const of = (table: string) => `EXISTS (SELECT 1 FROM ${this.s}.${table} WHERE pipeline = $1 AND day = $2)`;
    const rows = await this.db.query(
      `SELECT (EXISTS (SELECT 1 FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0 AND window_start >= $3 AND window_start < $4)
         OR ${['late_events', 'day_versions', 'reconciliations', 'dirty_cells', 'late_delta'].map(of).join(' OR ')}) AS held`,
      [pipeline, day, from, from + 86_400_000]);
    return !rows[0]?.held;
  }

  /** A store last written before retention existed has no `pruned_days` table: nothing was pruned. */
  private async hasPrunedDays(): Promise<boolean> {
    const table = await this.db.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'pruned_days'`, [this.s]);
    return Number(table[0]?.n ?? 0) > 0;
  }

  /**
   * When the store's retention deleted the pipeline's day (epoch ms), null if it did not. A store last
   * written before retention existed has no `pruned_days` table: nothing was pruned.
   */
  async prunedAt(pipeline: string, day: string): Promise<number | null> {
    if (!(await this.hasPrunedDays())) return null;
    const rows = await this.db.query(`SELECT pruned_at FROM ${this.s}.pruned_days WHERE pipeline = $1 AND day = $2`, [pipeline, day]);
    return rows[0] ? Number(rows[0].pruned_at) : null;
  }

  /** The definition versions of one day's live rows, with how many rows each. */
  async definitionVersions(pipeline: string, day: string): Promise<Map<string, number>> {
    const rows = await this.db.query(
      `SELECT definition_version AS v, count(*) AS n FROM ${this.s}.result_rows WHERE pipeline = $1 AND day = $2
         AND generation = coalesce((SELECT generation FROM ${this.s}.day_live WHERE pipeline = $1 AND day = $2), 0) GROUP BY 1`, [pipeline, day]);
    return new Map(rows.map((r) => [String(r.v), Number(r.n)]));
  }

  /** The day's live rows counted by provenance (who wrote them: `backfill` rows were recomputed since the day's version was published). */
  async liveProvenance(pipeline: string, day: string): Promise<Map<string, number>> {
    const rows = await this.db.query(
      `SELECT provenance AS p, count(*) AS n FROM ${this.s}.result_rows WHERE pipeline = $1 AND day = $2
         AND generation = coalesce((SELECT generation FROM ${this.s}.day_live WHERE pipeline = $1 AND day = $2), 0) GROUP BY 1 ORDER BY 1`, [pipeline, day]);
    return new Map(rows.map((r) => [String(r.p), Number(r.n)]));
  }

  /** Per version of the day (0: the stream's), the definition versions of its rows with how many rows each. */
  async definitionVersionsByVersion(pipeline: string, day: string): Promise<Map<number, Map<string, number>>> {
    const rows = await this.db.query(
      `SELECT generation AS g, definition_version AS v, count(*) AS n FROM ${this.s}.result_rows WHERE pipeline = $1 AND day = $2 GROUP BY 1, 2 ORDER BY 1, 2`, [pipeline, day]);
    const out = new Map<number, Map<string, number>>();
    for (const r of rows) {
      const g = Number(r.g);
      if (!out.has(g)) out.set(g, new Map());
      out.get(g)!.set(String(r.v), Number(r.n));
    }
    return out;
  }

  /**
   * `definitionVersions` of a day's live rows in the order `current` first meets each version (what a
   * count over its rows gives: `concord report --format json` names them before it writes the rows).
   */
  async definitionVersionsInRowOrder(pipeline: string, day: string): Promise<Map<string, number>> {
    // Each version's first row: its least window start, then its least cell there (a lookup per version).
    const live = `coalesce((SELECT generation FROM ${this.s}.day_live WHERE pipeline = $1 AND day = $2), 0)`;
    const rows = await this.db.query(
      `WITH v AS (SELECT definition_version AS v, count(*) AS n, min(window_start) AS ws FROM ${this.s}.result_rows
                  WHERE pipeline = $1 AND day = $2 AND generation = ${live} GROUP BY 1)
       SELECT v.v, v.n, (SELECT min(r.cell) FROM ${this.s}.result_rows r WHERE r.pipeline = $1 AND r.generation = ${live}
                           AND r.window_start = v.ws AND r.day = $2 AND r.definition_version = v.v) AS c
       FROM v ORDER BY v.ws, c`, [pipeline, day]);
    return new Map(rows.map((r) => [String(r.v), Number(r.n)]));
  }

  /**
   * Of `days`, those whose stream rows (version 0) come from more than one definition version of the
   * pipeline (a changed definition streamed into a day the old one had rows of), with the rows of each.
   */
  async mixedStreamDays(pipeline: string, days: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const out = await this.streamDayVersions(pipeline, days);
    for (const [day, versions] of out) if (versions.size < 2) out.delete(day);
    return out;
  }

  /** Of `days`, those with stream rows (version 0), with the rows of each definition version. */
  async streamDayVersions(pipeline: string, days: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for (let i = 0; i < days.length; i += 400) {
      const part = days.slice(i, i + 400);
      const rows = await this.db.query(
        `SELECT day, definition_version AS v, count(*) AS n FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0
           AND day IN (${part.map((_, j) => `$${j + 2}`).join(', ')}) GROUP BY 1, 2 ORDER BY 1, 2`, [pipeline, ...part]);
      for (const r of rows) {
        const day = String(r.day);
        if (!out.has(day)) out.set(day, new Map());
        out.get(day)!.set(String(r.v), Number(r.n));
      }
    }
    return out;
  }

  async reconciliations(pipeline: string, day: string): Promise<DayReconciliation[]> {
    const rows = await this.db.query(`SELECT report_json FROM ${this.s}.reconciliations WHERE pipeline = $1 AND day = $2 ORDER BY at_ms`, [pipeline, day]);
    return rows.map((r) => JSON.parse(String(r.report_json)) as DayReconciliation);
  }
}
