import type { KeyValues } from '../pipeline/keys.ts';
import { MAX_DECIMAL_SCALE } from '../schemas/schema.ts';
import { sqlRowLimit, type SqlDriver, type SqlValue } from './sql-driver.ts';
import { rowFromDb, type StoredRow } from './rows.ts';
import { SqlResultStore, type StoreOptions } from './sql-store.ts';
import { everyVersion } from './store-tables.ts';
import { COUNTED_LATE_SQL } from './dirty-cells.ts';
import { VersionCompare, type CompareOptions, type CompareRow } from './version-compare.ts';

const DAY = 86_400_000;

export type VersionSelector = 'live' | number | { asOf: number };

export interface RowQuery {
  /** window_start (alerts: the alert's ts) in [from, to). */
  from: number;
  to: number;
  kind: 'window' | 'alert';
  version: VersionSelector;
  /** Only these cells (window pipelines: storedCellId of the key). */
  cells?: readonly string[];
  /** Only these keys (the stored key JSON; alerts). */
  keys?: readonly string[];
  /** Keyset paging: rows after this (window_start, cell). */
  after?: { windowStart: number; cell: string };
  /** Newest first (paging backwards from `after`). */
  desc?: boolean;
  limit: number;
}

export interface TopKey { cell: string; key: KeyValues; total: number | null; windows: number }

/**
 * How /top combines a key's windows into the number it ranks by: `sum` adds them up (a count or a sum
 * over windows that do not overlap: the total of the range), `max` / `min` the largest / smallest window
 * (Prometheus' max_over_time / min_over_time), `mean` their plain mean (avg_over_time: each window weighs
 * the same, whatever its number of events).
 */
export const TOP_RANKS = ['sum', 'max', 'min', 'mean'] as const;
export type TopRank = (typeof TOP_RANKS)[number];
const RANK_SQL: Record<Exclude<TopRank, 'sum'>, string> = { max: 'max(v)', min: 'min(v)', mean: 'avg(v)' };
/**
 * A day of a pipeline as the store holds it. `streamRows`: the store holds a row of the stream's own
 * version (0) of the day; false for a day the stream never wrote (a pipeline added to the definitions
 * later and backfilled into it): day-status.ts `versionsOfDay` lists no version 0 for it.
 */
export interface DayState { liveGeneration: number; generations: number[]; reconciliations: { status: string; generation: number | null; at: number }[]; streamRows: boolean }
/** The days of `states` with rows: the stream's, or a stored version's (not only a reconciliation that published none). */
export function daysWithRows(states: ReadonlyMap<string, DayState>): Set<string> {
  return new Set([...states].filter(([, st]) => st.streamRows || st.generations.length > 0).map(([day]) => day));
}
export interface StoredLateEvent {
  pipeline: string; day: string; source: string; offset: number; evaluatedOnArrival: boolean; record: Record<string, unknown>;
  /** A rule's merge stage fed it out of the canonical order (LoggedLate.decidedAfterWakeup): at that clock. */
  decidedAfterWakeup?: { at: number | null; order: number };
}

/**
 * The queries `concord serve` answers from, over one consistent snapshot of the store (StoreReader.read):
 * every query bounded by a time range and a row limit, every value a parameter.
 */
export class StoreSnapshot {
  /** The store has no tables yet (nothing was ever written). */
  readonly empty: boolean;
  /** The store's own reads over this snapshot: exactly what `concord report` reads (current, status, reconciliations, asOfRows). */
  readonly store: SqlResultStore;
  private readonly q: SqlDriver;
  private readonly s: string;
  private readonly versionCompare: VersionCompare;

  /** The database the store lives in, also when the store has no tables (other stores beside it). */
  private readonly database: SqlDriver;

  constructor(q: SqlDriver, options: StoreOptions & { schema: string }, empty: boolean, database: SqlDriver = q) {
    this.q = q;
    this.s = options.schema;
    this.versionCompare = new VersionCompare(q, options.schema, options.registry);
    this.empty = empty;
    this.store = new SqlResultStore(q, options);
    this.database = database;
  }

  /**
   * The other Concord stores in the same database: schemas holding its result table. An empty store
   * beside a filled one is mostly a reader given another CONCORD_STORE_SCHEMA than the writers had.
   */
  async otherStores(): Promise<string[]> {
    const rows = await this.database.query(`SELECT DISTINCT table_schema AS s FROM information_schema.tables
      WHERE table_name = 'result_rows' AND table_schema <> $1 ORDER BY 1`, [this.s]);
    return rows.map((r) => String(r.s));
  }

  /** Rows of a pipeline in a time range, at a version, ordered by (window_start, cell), at most `limit`. */
  async rows(pipeline: string, r: RowQuery): Promise<StoredRow[]> {
    const params: SqlValue[] = [pipeline, r.from, r.to, r.kind];
    const p = (v: SqlValue) => { params.push(v); return `$${params.length}`; };
    const where = ['r.pipeline = $1', 'r.window_start >= $2', 'r.window_start < $3', 'r.kind = $4'];
    if (r.cells?.length) where.push(`r.cell IN (${r.cells.map(p).join(', ')})`);
    if (r.keys?.length) where.push(`r.key_json IN (${r.keys.map(p).join(', ')})`);
    const [cmp, dir] = r.desc ? ['<', 'DESC'] : ['>', 'ASC'];
    if (r.after) {
      const ws = p(r.after.windowStart);
      where.push(`(r.window_start ${cmp} ${ws} OR (r.window_start = ${ws} AND r.cell ${cmp} ${p(r.after.cell)}))`);
    }
    const order = (t: string) => `ORDER BY ${t}window_start ${dir}, ${t}cell ${dir} LIMIT ${sqlRowLimit(r.limit)}`;
    const s = this.s, v = r.version;
    let sql: string;
    if (typeof v === 'object') {
      const at = p(v.asOf);
      sql = `WITH g AS (SELECT day, generation FROM (SELECT day, generation, row_number() OVER (PARTITION BY day ORDER BY seq DESC) AS rn
               FROM ${s}.switch_log WHERE pipeline = $1 AND at_ms <= ${at}) x WHERE rn = 1),
             h AS (SELECT r.*, row_number() OVER (PARTITION BY r.window_start, r.cell ORDER BY r.revision DESC, r.replaced) AS rn_
               FROM (${everyVersion(s)}) r LEFT JOIN g ON g.day = r.day
               WHERE ${where.join(' AND ')} AND r.generation = coalesce(g.generation, 0) AND r.written_at <= ${at})
             SELECT * FROM h WHERE rn_ = 1 ${order('')}`;
    } else if (v === 'live') {
      sql = `SELECT r.* FROM ${s}.result_rows r LEFT JOIN ${s}.day_live d ON d.pipeline = r.pipeline AND d.day = r.day
             WHERE ${where.join(' AND ')} AND r.generation = coalesce(d.generation, 0) ${order('r.')}`;
    } else {
      sql = `SELECT r.* FROM ${s}.result_rows r WHERE ${where.join(' AND ')} AND r.generation = ${p(v)} ${order('r.')}`;
    }
    return (await this.q.query(sql, params)).map(rowFromDb);
  }

  /**
   * The `n` keys with the largest `rank` (default `sum`) of `aggregate` over the windows starting in [from, to) (one window: its value).
   * `decimals` (rows.ts exactDigitsOf): the values are whole numbers of 10^-decimals, summed as integers, so
   * the total is the double nearest the exact sum (24541.47, not 24541.469999999998; 2^53 + 2, not 2^53).
   * A max or min is one window's stored value as it is.
   */
  async top(pipeline: string, o: { from: number; to: number; aggregate: string; n: number; version: 'live' | number; decimals?: number | null; rank?: TopRank }): Promise<TopKey[]> {
    const params: SqlValue[] = [pipeline, o.from, o.to];
    const p = (v: SqlValue) => { params.push(v); return `$${params.length}`; };
    // The aggregate's name reaches SQL only as a parameter: a JSON key (PostgreSQL) or a JSON pointer (DuckDB, RFC 6901).
    const value = this.q.backend === 'postgres'
      ? `CAST((r.values_json::jsonb ->> ${p(o.aggregate)}) AS DOUBLE PRECISION)`
      : `TRY_CAST(json_extract_string(r.values_json, ${p(`/${o.aggregate.replaceAll('~', '~0').replaceAll('/', '~1')}`)}) AS DOUBLE)`;
    const rank = o.rank ?? 'sum';
    const d = rank === 'sum' ? o.decimals ?? null : null;
    if (d !== null && !(Number.isInteger(d) && d >= 0 && d <= MAX_DECIMAL_SCALE)) throw new RangeError(`decimals: 0..${MAX_DECIMAL_SCALE}, got ${d}`);
    const unit = 10 ** (d ?? 0);
    // Each stored value is the double nearest m / 10^d: times 10^d, rounded, is m again (|m| < 2^53; past
    // that the stored double was all there was). Values whose m would overflow a BIGINT are summed as doubles.
    // `v`: each window's value, extracted from its JSON once.
    const fits = `abs(v) < ${2 ** 62 / unit}`;
    const exact = d === null ? 'NULL' : `sum(CASE WHEN ${fits} THEN CAST(round(v * ${unit}) AS BIGINT) END)`;
    const rest = rank !== 'sum' ? RANK_SQL[rank] : d === null ? 'sum(v)' : `sum(CASE WHEN NOT (${fits}) THEN v END)`;
    const live = o.version === 'live';
    const rows = await this.q.query(
      `SELECT cell, key_json, exact, rest, windows, CASE WHEN exact IS NULL AND rest IS NULL THEN NULL
         ELSE coalesce(CAST(exact AS FLOAT8), 0) / ${unit} + coalesce(rest, 0) END AS ranked
       FROM (SELECT cell, min(key_json) AS key_json, ${exact} AS exact, ${rest} AS rest, count(*) AS windows
         FROM (SELECT r.cell AS cell, r.key_json AS key_json, ${value} AS v
           FROM ${this.s}.result_rows r ${live ? `LEFT JOIN ${this.s}.day_live d ON d.pipeline = r.pipeline AND d.day = r.day` : ''}
           WHERE r.pipeline = $1 AND r.kind = 'window' AND r.window_start >= $2 AND r.window_start < $3
             AND r.generation = ${live ? 'coalesce(d.generation, 0)' : p(o.version as number)}) w
         GROUP BY cell) t
       ORDER BY ranked DESC NULLS LAST, exact DESC NULLS LAST, cell LIMIT ${sqlRowLimit(o.n)}`, params);
    // An integer sum (HUGEINT from DuckDB, numeric text from PostgreSQL) converted and divided once: the double nearest the exact total.
    const totalOf = (x: Record<string, unknown>) => x.exact === null && x.rest === null ? null : Number(x.exact ?? 0) / unit + Number(x.rest ?? 0);
    return rows.map((x) => ({ cell: String(x.cell), key: JSON.parse(String(x.key_json)) as KeyValues, total: totalOf(x), windows: Number(x.windows) }));
  }

  /** No result at all: no tables yet, or none in them (a sink that wrote nothing creates the tables). */
  async holdsNoResult(): Promise<boolean> {
    if (this.empty) return true;
    return (await this.q.query(`SELECT 1 AS one FROM ${this.s}.result_rows LIMIT 1`)).length === 0;
  }

  /** The pipelines the store holds results or a watermark of (an index skip-scan on PostgreSQL). */
  async pipelines(): Promise<string[]> {
    const rows = await this.q.query(
      `WITH RECURSIVE p(name) AS (
         SELECT min(pipeline) FROM ${this.s}.result_rows
         UNION ALL
         SELECT (SELECT min(r.pipeline) FROM ${this.s}.result_rows r WHERE r.pipeline > p.name) FROM p WHERE p.name IS NOT NULL)
       SELECT name FROM p WHERE name IS NOT NULL UNION SELECT pipeline AS name FROM ${this.s}.watermarks`);
    return [...new Set(rows.map((x) => String(x.name)))].sort();
  }

  /** First and last window start (alert ts) of the stream's rows, and how many rows the pipeline has in all versions. */
  async extent(pipeline: string, withCount = false): Promise<{ first: number | null; last: number | null; rows: number | null }> {
    const [r] = await this.q.query(`SELECT min(window_start) AS first, max(window_start) AS last FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0`, [pipeline]);
    const count = withCount ? await this.q.query(`SELECT count(*) AS n FROM ${this.s}.result_rows WHERE pipeline = $1`, [pipeline]) : [];
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return { first: num(r?.first), last: num(r?.last), rows: withCount ? Number(count[0]?.n ?? 0) : null };
  }

  /** The newest UTC day the pipeline has a stored version of (a reconcile or backfill published it); null: none. */
  async newestVersionDay(pipeline: string): Promise<string | null> {
    const [r] = await this.q.query(`SELECT max(day) AS day FROM ${this.s}.day_versions WHERE pipeline = $1`, [pipeline]);
    return r?.day === null || r?.day === undefined ? null : String(r.day);
  }

  /** The UTC days in [fromDay, toDay] with rows of the stream's own version (0): an index skip-scan, one probe per day. */
  async streamDays(pipeline: string, fromDay: string, toDay: string): Promise<string[]> {
    const from = Date.parse(`${fromDay}T00:00:00.000Z`), to = Date.parse(`${toDay}T00:00:00.000Z`) + DAY;
    const starts = await this.q.query(
      `WITH RECURSIVE d(ws) AS (
         SELECT min(window_start) FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0 AND window_start >= $2 AND window_start < $3
         UNION ALL
         SELECT (SELECT min(r.window_start) FROM ${this.s}.result_rows r WHERE r.pipeline = $1 AND r.generation = 0
                   AND r.window_start >= d.ws - (d.ws % ${DAY}) + ${DAY} AND r.window_start < $3)
         FROM d WHERE d.ws IS NOT NULL)
       SELECT ws FROM d WHERE ws IS NOT NULL`, [pipeline, from, to]);
    return starts.map((x) => new Date(Number(x.ws)).toISOString().slice(0, 10));
  }

  async versions(pipeline: string, day: string): Promise<{ generation: number; status: string; jobId: string | null; createdAt: number }[]> {
    const rows = await this.q.query(`SELECT generation, status, job_id, created_at FROM ${this.s}.day_versions WHERE pipeline = $1 AND day = $2 ORDER BY generation`, [pipeline, day]);
    return rows.map((x) => ({ generation: Number(x.generation), status: String(x.status), jobId: x.job_id === null ? null : String(x.job_id), createdAt: Number(x.created_at) }));
  }

  async switches(pipeline: string | null, o: { day?: string; afterSeq?: number; limit: number }): Promise<{ seq: number; pipeline: string; day: string; generation: number; previous: number; reason: string; at: number }[]> {
    const params: SqlValue[] = [];
    const where: string[] = [];
    if (pipeline !== null) { params.push(pipeline); where.push(`pipeline = $${params.length}`); }
    if (o.day !== undefined) { params.push(o.day); where.push(`day = $${params.length}`); }
    if (o.afterSeq !== undefined) { params.push(o.afterSeq); where.push(`seq > $${params.length}`); }
    const rows = await this.q.query(
      `SELECT seq, pipeline, day, generation, previous, reason, at_ms FROM ${this.s}.switch_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY seq ${o.afterSeq === undefined ? 'DESC' : ''} LIMIT ${sqlRowLimit(o.limit)}`, params);
    return rows.map((x) => ({ seq: Number(x.seq), pipeline: String(x.pipeline), day: String(x.day), generation: Number(x.generation), previous: Number(x.previous), reason: String(x.reason), at: Number(x.at_ms) }))
      .sort((a, b) => a.seq - b.seq);
  }

  /** Cells of a day in version `a` next to version `b` (VersionCompare.compare, version-compare.ts). */
  compare(pipeline: string, day: string, a: number, b: number, o: CompareOptions): Promise<CompareRow[]> {
    return this.versionCompare.compare(pipeline, day, a, b, o);
  }

  /** Late events stored per pipeline and day, days in [fromDay, toDay] (on-time records of an idle wakeup not counted). */
  async lateCounts(fromDay: string, toDay: string): Promise<{ pipeline: string; day: string; n: number }[]> {
    const rows = await this.q.query(`SELECT pipeline, day, count(*) AS n FROM ${this.s}.late_events WHERE day >= $1 AND day <= $2 AND ${COUNTED_LATE_SQL} GROUP BY pipeline, day ORDER BY pipeline, day`, [fromDay, toDay]);
    return rows.map((x) => ({ pipeline: String(x.pipeline), day: String(x.day), n: Number(x.n) }));
  }

  async lateEvents(pipeline: string, fromDay: string, toDay: string, o: { after?: { source: string; offset: number }; limit: number }): Promise<StoredLateEvent[]> {
    const params: SqlValue[] = [pipeline, fromDay, toDay];
    let after = '';
    if (o.after) { params.push(o.after.source, o.after.offset); after = `AND (source > $4 OR (source = $4 AND "offset" > $5))`; }
    const rows = await this.q.query(
      `SELECT pipeline, day, source, "offset", record_json FROM ${this.s}.late_events WHERE pipeline = $1 AND day >= $2 AND day <= $3 ${after}
       ORDER BY source, "offset" LIMIT ${sqlRowLimit(o.limit)}`, params);
    return rows.map((x) => {
      const r = JSON.parse(String(x.record_json)) as { evaluated_on_arrival: boolean; record: Record<string, unknown>; decided_after_wakeup?: { at: number | null; order: number } };
      return {
        pipeline: String(x.pipeline), day: String(x.day), source: String(x.source), offset: Number(x.offset), evaluatedOnArrival: r.evaluated_on_arrival, record: r.record,
        ...(r.decided_after_wakeup ? { decidedAfterWakeup: r.decided_after_wakeup } : {}),
      };
    });
  }

  // ---- the store's view for metrics and the live feed -----------------------------------------------

  /** Per pipeline: rows (every version), late events, unconsumed dirty cells, watermark. */
  async totals(): Promise<Map<string, { rows: number; late: number; dirty: number; watermark: number | null }>> {
    const out = new Map<string, { rows: number; late: number; dirty: number; watermark: number | null }>();
    const at = (p: unknown) => {
      const name = String(p);
      if (!out.has(name)) out.set(name, { rows: 0, late: 0, dirty: 0, watermark: null });
      return out.get(name)!;
    };
    for (const x of await this.q.query(`SELECT pipeline, count(*) AS n FROM ${this.s}.result_rows GROUP BY pipeline`)) at(x.pipeline).rows = Number(x.n);
    for (const x of await this.q.query(`SELECT pipeline, count(*) AS n FROM ${this.s}.late_events WHERE ${COUNTED_LATE_SQL} GROUP BY pipeline`)) at(x.pipeline).late = Number(x.n);
    for (const x of await this.q.query(`SELECT pipeline, count(*) AS n FROM ${this.s}.dirty_cells WHERE consumed_by IS NULL GROUP BY pipeline`)) at(x.pipeline).dirty = Number(x.n);
    for (const x of await this.q.query(`SELECT pipeline, watermark FROM ${this.s}.watermarks`)) at(x.pipeline).watermark = Number(x.watermark);
    return out;
  }

  async watermarks(): Promise<Map<string, number>> {
    const rows = await this.q.query(`SELECT pipeline, watermark FROM ${this.s}.watermarks`);
    return new Map(rows.map((x) => [String(x.pipeline), Number(x.watermark)]));
  }

  /**
   * Per day of [fromDay, toDay] the store knows of (stream rows, a version, a reconciliation): the live
   * version, the stored versions, the reconciliations (without their reports), whether it holds stream rows.
   */
  async dayStates(pipeline: string, fromDay: string, toDay: string): Promise<Map<string, DayState>> {
    const out = new Map<string, DayState>();
    const at = (d: unknown) => {
      const day = String(d);
      if (!out.has(day)) out.set(day, { liveGeneration: 0, generations: [], reconciliations: [], streamRows: false });
      return out.get(day)!;
    };
    for (const day of await this.streamDays(pipeline, fromDay, toDay)) at(day).streamRows = true;
    const args = [pipeline, fromDay, toDay];
    const range = 'pipeline = $1 AND day >= $2 AND day <= $3';
    for (const x of await this.q.query(`SELECT day, generation FROM ${this.s}.day_live WHERE ${range}`, args)) at(x.day).liveGeneration = Number(x.generation);
    for (const x of await this.q.query(`SELECT day, generation FROM ${this.s}.day_versions WHERE ${range} ORDER BY generation`, args)) at(x.day).generations.push(Number(x.generation));
    for (const x of await this.q.query(`SELECT day, status, generation, at_ms FROM ${this.s}.reconciliations WHERE ${range} ORDER BY at_ms`, args)) {
      at(x.day).reconciliations.push({ status: String(x.status), generation: x.generation === null ? null : Number(x.generation), at: Number(x.at_ms) });
    }
    return out;
  }

  /** Every (pipeline, day) with a reconciled version live. */
  async liveDays(): Promise<{ pipeline: string; day: string; generation: number; switchedAt: number }[]> {
    const rows = await this.q.query(`SELECT pipeline, day, generation, switched_at FROM ${this.s}.day_live ORDER BY pipeline, day`);
    return rows.map((x) => ({ pipeline: String(x.pipeline), day: String(x.day), generation: Number(x.generation), switchedAt: Number(x.switched_at) }));
  }

  /** Per pipeline, its newest reconciliation (the stored report JSON, parsed by the caller). */
  async lastReconciliations(): Promise<{ pipeline: string; day: string; status: string; generation: number | null; at: number; reportJson: string }[]> {
    const rows = await this.q.query(
      `SELECT pipeline, day, status, generation, at_ms, report_json FROM ${this.s}.reconciliations r
       WHERE at_ms = (SELECT max(at_ms) FROM ${this.s}.reconciliations x WHERE x.pipeline = r.pipeline) ORDER BY pipeline`);
    return rows.map((x) => ({ pipeline: String(x.pipeline), day: String(x.day), status: String(x.status), generation: x.generation === null ? null : Number(x.generation), at: Number(x.at_ms), reportJson: String(x.report_json) }));
  }

  /** Stream rows (generation 0) of windows starting at or after `fromStart`, written after `sinceWritten`, oldest write first. */
  async written(pipeline: string, fromStart: number, sinceWritten: number, limit: number): Promise<StoredRow[]> {
    const rows = await this.q.query(
      `SELECT * FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0 AND window_start >= $2 AND written_at > $3
       ORDER BY written_at, window_start, cell LIMIT ${sqlRowLimit(limit)}`, [pipeline, fromStart, sinceWritten]);
    return rows.map(rowFromDb);
  }

  async lastWrite(pipeline: string, fromStart: number): Promise<number | null> {
    const [r] = await this.q.query(`SELECT max(written_at) AS m FROM ${this.s}.result_rows WHERE pipeline = $1 AND generation = 0 AND window_start >= $2`, [pipeline, fromStart]);
    return r?.m === null || r?.m === undefined ? null : Number(r.m);
  }
}
