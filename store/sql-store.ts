import { ConfigError } from '../pipeline/errors.ts';
import type { Registry } from '../pipeline/registry.ts';
import type { DayReconciliation } from '../reconcile/day-report.ts';
import type { LoggedLate } from '../reconcile/reconcile.ts';
import type { DirtyCell, ReconcileStore } from '../reconcile/reconcile-day.ts';
import type { KeyValues, ResultRecord } from '../schemas/results.ts';
import type { StreamQuarantine } from '../reconcile/stream-quarantine.ts';
import { windowOf } from './day-status.ts';
import { DayVersions, type PublishOutcome } from './day-versions.ts';
import { markDirtyCells } from './dirty-cells.ts';
import { nightRecord, type NightRecord } from './night-record.ts';
import { readQuarantined, writeQuarantined, type QuarantineRecord } from './quarantine-records.ts';
import { readRejectedEvents, writeRejected, type RejectionRecord } from './rejection-records.ts';
import { dayOf, lateToStored, type StoredRow } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';
import { StoreReads, type Change, type DayStatus } from './store-reads.ts';
import { refusePrunedDay, StoreRetention, type PruneDay, type RetentionPolicy } from './store-retention.ts';
import { VerdictRetention, type PruneVerdicts } from './verdict-retention.ts';
import { inputEnd, InputEndWrites, readInputEnd, type InputEnd } from './input-ends.ts';
import { readStreamReach, writeStreamReach, type StreamReach } from './stream-reach.ts';
import { readStreamStart } from './stream-starts.ts';
import { advanceSinkOffset, readSinkOffsets, writeSinkOffsets, type SinkOffsets } from './sink-offsets.ts';
import { createStoreTables } from './store-tables.ts';
import { StreamWrites, type WriteOutcome } from './stream-writes.ts';

export type { WriteOutcome };

export interface StoreOptions {
  /** SQL schema holding the tables (tests use one each). */
  schema?: string;
  /** A day is provisional until the pipeline's watermark passes its end plus this (default 72 h). */
  sealDelayMs?: number;
  /** The loaded definitions, to turn rows back into records. */
  registry: Registry;
  now?: () => number;
}

/** A store schema name: it is written into SQL unquoted. */
export const STORE_SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * The single source of truth: result rows per cell and generation, with history, day versions and an
 * atomic switch per (pipeline, day), published changes, dirty cells, late events and reconciliation
 * reports. One implementation over SqlDriver serves embedded DuckDB and PostgreSQL alike.
 *
 * - Generation 0 holds the stream's own rows (guarded by revision: a lower or equal revision changes
 *   nothing, so replays of the results topic are harmless).
 * - A reconciliation stages generation g (all of the day's cells, provenance `reconciled`) and switches
 *   the day to it in one transaction; readers join through `day_live`, so they see the old version or
 *   the new one, never a mix. Stream rows arriving for a reconciled (or sealed) day still update
 *   generation 0 (what the next reconciliation diffs against) but never what readers see: the cell is
 *   marked dirty for a backfill, which writes into the live generation (provenance `backfill`).
 * - `result_rows` holds each cell's current version, `result_history` the versions replaced (as-of reads
 *   take both). The stream's writes are `StreamWrites` (stream-writes.ts); on embedded DuckDB the one
 *   writing process keeps what it stored in memory (LiveIndex), and the stream's rows go in with plain
 *   inserts and updates: no lookups, no upserts.
 */
export class SqlResultStore implements ReconcileStore {
  private readonly db: SqlDriver;
  private readonly s: string;
  private readonly sealDelayMs: number;
  private readonly registry: Registry;
  private readonly now: () => number;
  /** result_rows and result_history have no primary key (embedded DuckDB stores created since issue 12). */
  private keyless = false;
  /** The stream's write path (keyed until `init` finds the tables without keys). */
  private writes: StreamWrites;
  /** Reconciled versions, reverts and backfills of a day. */
  private versions: DayVersions;
  /** What the store answers (every read but the archive checks). */
  private readonly reads: StoreReads;
  /** The input ends each stream write forgets or writes (input-ends.ts). */
  private readonly inputEnds: InputEndWrites;

  constructor(db: SqlDriver, options: StoreOptions) {
    this.db = db;
    const schema = options.schema ?? 'concord';
    if (!STORE_SCHEMA_NAME.test(schema)) throw new ConfigError(`store schema "${schema}": use lower-case letters, digits and _`);
    this.s = schema;
    this.sealDelayMs = options.sealDelayMs ?? 72 * 3_600_000;
    this.registry = options.registry;
    this.now = options.now ?? Date.now;
    this.writes = new StreamWrites(schema, false, { now: this.now, sealDelayMs: this.sealDelayMs, windowOf: (p) => windowOf(this.registry, p) });
    this.versions = new DayVersions(schema, false, this.registry);
    this.reads = new StoreReads(db, schema, this.registry, this.sealDelayMs);
    this.inputEnds = new InputEndWrites(schema, db.backend === 'duckdb');
  }

  get backend(): 'duckdb' | 'postgres' {
    return this.db.backend;
  }

  /** Creates the schema's tables if missing (idempotent); on PostgreSQL checks the role may write them. */
  async init(): Promise<this> {
    try {
      ({ keyless: this.keyless } = await createStoreTables(this.db, this.s));
    } catch (error) {
      await this.db.close().catch(() => undefined); // a store that could not open holds no connection
      throw error;
    }
    this.writes = new StreamWrites(this.s, this.keyless, { now: this.now, sealDelayMs: this.sealDelayMs, windowOf: (p) => windowOf(this.registry, p) });
    this.versions = new DayVersions(this.s, this.keyless, this.registry);
    return this;
  }

  /** No result row, late event or watermark: nothing a sink ever wrote here (retention keeps the watermarks). */
  async holdsNoStreamOutput(): Promise<boolean> {
    const s = this.s;
    const rows = await this.db.query(`SELECT 1 AS one FROM ${s}.result_rows UNION ALL SELECT 1 FROM ${s}.late_events UNION ALL SELECT 1 FROM ${s}.watermarks LIMIT 1`);
    return rows.length === 0;
  }

  /** How far sink group `groupId`'s reads are in this store, per topic and partition (sink-offsets.ts). */
  sinkOffsets(groupId: string): Promise<Map<string, Map<number, number>>> {
    return readSinkOffsets(this.db, this.s, groupId);
  }

  /** A sink's offset of a partition moved from its own last one (sink-positions.ts); nothing where the store holds another. */
  advanceSinkOffset(groupId: string, move: { topic: string; partition: number; from: number; to: number }): Promise<void> {
    return advanceSinkOffset(this.db, this.s, groupId, move);
  }

  /** DuckDB: fold the WAL into the file now, between writes (see StoreSink.checkpointIfDue). */
  async checkpoint(): Promise<void> {
    await this.db.checkpoint?.();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  // ---- writes from the stream ------------------------------------------------------------------

  /**
   * The stream's results (any pipeline, any day; a changelog or final rows). Idempotent: a row at a
   * revision already stored changes nothing. Guarded: a lower revision never overwrites a higher one,
   * and nothing here touches a reconciled generation.
   */
  async writeRealtime(records: readonly ResultRecord[]): Promise<WriteOutcome> {
    if (records.length === 0) return { applied: 0, diverted: 0 };
    return this.writing(async (tx) => {
      const out = await this.writes.results(tx, records);
      await this.inputEnds.write(tx, records.map((r) => r.pipeline), undefined);
      return out;
    });
  }

  /** Late events the workers recorded; a new late event for a reconciled or sealed day dirties its cell. */
  async appendLate(pipeline: string, entries: readonly LoggedLate[]): Promise<number> {
    if (entries.length === 0) return 0;
    const def = this.registry.pipeline(pipeline);
    return this.writing(async (tx) => {
      const added = await this.writes.lateEvents(tx, entries.map((l) => lateToStored(def, l)));
      await this.inputEnds.write(tx, [pipeline], undefined);
      return added;
    });
  }

  /**
   * The pipeline's watermark (max of what was reported), which seals days. `ended`: its bounded input
   * ended there (every partition drained, store/sink-watermarks.ts), kept as the store's input end; without
   * it, the pipeline's input end is forgotten (a stream goes on).
   */
  async setWatermark(pipeline: string, w: number, ended?: { run: string; at: string }): Promise<void> {
    if (!Number.isFinite(w)) return; // +infinity ends a bounded run; it says nothing about wall-clock sealing
    await this.writing(async (tx) => {
      await this.writes.watermark(tx, pipeline, w);
      await this.inputEnds.write(tx, [pipeline], ended ? new Map([[pipeline, inputEnd(ended.run, ended.at, w, this.now())]]) : undefined);
    });
  }

  /**
   * One flush of a sink in one transaction (one commit): results first, then late events (their cells'
   * days may have been reconciled) and the events the stream quarantined or refused, then watermarks (which seal days).
   * The input ends of the pipelines written are forgotten, and `ended` written: a bounded run's end goes
   * with its last rows (input-ends.ts).
   */
  async writeBatch(batch: {
    results: readonly ResultRecord[]; late: ReadonlyMap<string, readonly LoggedLate[]>; watermarks: ReadonlyMap<string, number>;
    quarantined?: readonly QuarantineRecord[]; rejected?: readonly RejectionRecord[];
    /** A Kafka sink's: how far its group's reads are once this batch is in (sink-offsets.ts). */
    offsets?: SinkOffsets;
    /** Pipelines whose bounded input ended with this batch. */
    ended?: ReadonlyMap<string, InputEnd>;
    /** How far the stream read each source once this batch is in (stream-reach.ts). */
    reach?: StreamReach;
  }): Promise<WriteOutcome & { late: number }> {
    const late = [...batch.late].filter(([, l]) => l.length > 0);
    const watermarks = [...batch.watermarks].filter(([, w]) => Number.isFinite(w));
    const quarantined = batch.quarantined ?? [], rejected = batch.rejected ?? [];
    if (batch.results.length === 0 && late.length === 0 && watermarks.length === 0 && quarantined.length === 0 && rejected.length === 0 && (batch.offsets?.next.size ?? 0) === 0 && (batch.ended?.size ?? 0) === 0 && (batch.reach?.size ?? 0) === 0) return { applied: 0, diverted: 0, late: 0 };
    return this.writing(async (tx) => {
      const out = batch.results.length > 0 ? await this.writes.results(tx, batch.results) : { applied: 0, diverted: 0 };
      const added = late.length > 0 ? await this.writes.lateEvents(tx, late.flatMap(([pipeline, entries]) => entries.map((l) => lateToStored(this.registry.pipeline(pipeline), l)))) : 0;
      await writeQuarantined(tx, this.s, quarantined);
      await writeRejected(tx, this.s, rejected);
      for (const [pipeline, w] of watermarks) await this.writes.watermark(tx, pipeline, w);
      await writeSinkOffsets(tx, this.s, batch.offsets);
      await writeStreamReach(tx, this.s, batch.reach, this.now());
      await this.inputEnds.write(tx, [...batch.results.map((r) => r.pipeline), ...late.map(([p]) => p), ...watermarks.map(([p]) => p)], batch.ended);
      return { ...out, late: added };
    });
  }

  /**
   * A transaction of the live path. The live index and the input ends known are updated as its statements
   * succeed; if the transaction fails they no longer match the tables and are dropped (before the next
   * transaction starts), to be reloaded by the next write.
   */
  private writing<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return this.db.transaction(fn, { onRollback: () => { this.writes.clear(); this.inputEnds.clear(); } });
  }

  /** A write outside the live path (reconcile, backfill, revert): the live index is reloaded after it. */
  private rewriting<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      this.writes.live?.clear();
      return fn(tx);
    });
  }

  // ---- reads (StoreReads, store-reads.ts) ------------------------------------------------------------

  current(pipeline: string, day: string): Promise<StoredRow[]> { return this.reads.current(pipeline, day); }
  currentInParts(pipeline: string, day: string, pageRows: number): AsyncIterable<StoredRow[]> { return this.reads.currentInParts(pipeline, day, pageRows); }
  asOfRows(pipeline: string, day: string, instant: number): Promise<StoredRow[]> { return this.reads.asOfRows(pipeline, day, instant); }
  asOf(pipeline: string, day: string, instant: number): Promise<ResultRecord[]> { return this.reads.asOf(pipeline, day, instant); }
  realtimeResults(pipeline: string, day: string): Promise<ResultRecord[]> { return this.reads.realtimeResults(pipeline, day); }
  lateEvents(pipeline: string, day: string): Promise<LoggedLate[]> { return this.reads.lateEvents(pipeline, day); }
  async quarantinedEvents(schema: string, from: number, to: number): Promise<StreamQuarantine[]> {
    return [...await readQuarantined(this.db, this.s, schema, from, to), ...await readRejectedEvents(this.db, this.s, schema, from, to)];
  }
  changesSince(seq: number, limit?: number): Promise<Change[]> { return this.reads.changesSince(seq, limit); }
  watermark(pipeline: string): Promise<number | null> { return this.reads.watermark(pipeline); }
  firstStreamDay(pipeline: string): Promise<string | null> { return this.reads.firstStreamDay(pipeline); }
  /** The first W the store held of `pipeline`'s stream (stream-starts.ts); null: none recorded. */
  streamStart(pipeline: string): Promise<number | null> { return readStreamStart(this.db, this.s, pipeline); }
  /** Where the bounded run that last wrote `pipeline`'s stream rows ended its input (input-ends.ts); undefined: none did. */
  inputEnd(pipeline: string): Promise<InputEnd | undefined> { return readInputEnd(this.db, this.s, pipeline); }
  /** How far the stream read each source of `pipeline` (stream-reach.ts); empty: no run recorded one. */
  streamReach(pipeline: string): Promise<Map<string, number>> { return readStreamReach(this.db, this.s, pipeline); }
  status(pipeline: string, day: string): Promise<DayStatus> { return this.reads.status(pipeline, day); }
  dayStatus(pipeline: string, day: string): Promise<'provisional' | 'sealed'> { return this.reads.dayStatus(pipeline, day); }
  dirtyCells(pipeline: string, day: string): Promise<DirtyCell[]> { return this.reads.dirtyCells(pipeline, day); }
  dirtyDays(pipeline: string): Promise<Map<string, number>> { return this.reads.dirtyDays(pipeline); }
  contradictedCells(pipeline: string, day: string): Promise<DirtyCell[]> { return this.reads.contradictedCells(pipeline, day); }
  revertedToStream(pipeline: string, day: string): Promise<boolean> { return this.versions.revertedToStream(this.db, pipeline, day); }
  reconciliations(pipeline: string, day: string): Promise<DayReconciliation[]> { return this.reads.reconciliations(pipeline, day); }
  /** Which of `dates` were reconciled, and which others the stream wrote (store/night-record.ts). */
  nightRecord(pipeline: string, dates: readonly string[]): Promise<NightRecord> { return nightRecord(this.db, this.s, pipeline, dates); }
  holdsNothing(pipeline: string, day: string): Promise<boolean> { return this.reads.holdsNothing(pipeline, day); }
  prunedAt(pipeline: string, day: string): Promise<number | null> { return this.reads.prunedAt(pipeline, day); }
  definitionVersions(pipeline: string, day: string): Promise<Map<string, number>> { return this.reads.definitionVersions(pipeline, day); }
  definitionVersionsInRowOrder(pipeline: string, day: string): Promise<Map<string, number>> { return this.reads.definitionVersionsInRowOrder(pipeline, day); }
  mixedStreamDays(pipeline: string, days: readonly string[]): Promise<Map<string, Map<string, number>>> { return this.reads.mixedStreamDays(pipeline, days); }
  streamDayVersions(pipeline: string, days: readonly string[]): Promise<Map<string, Map<string, number>>> { return this.reads.streamDayVersions(pipeline, days); }
  liveProvenance(pipeline: string, day: string): Promise<Map<string, number>> { return this.reads.liveProvenance(pipeline, day); }
  definitionVersionsByVersion(pipeline: string, day: string): Promise<Map<number, Map<string, number>>> { return this.reads.definitionVersionsByVersion(pipeline, day); }

  // ---- reconciliation, backfill, revert -----------------------------------------------------------

  /**
   * One entry per (pipeline, day, job id), replaced by a later run under that id (a retry), except a run
   * that published: its record (what the version it made live corrected) is never replaced. A later run
   * under its id (a rerun that published nothing, failed, or published another version) is an entry of
   * its own beside it; its `job_id` in the report stays the one it ran under.
   */
  async saveReconciliation(rec: DayReconciliation): Promise<void> {
    await this.db.transaction(async (tx) => {
      const held = await tx.query(`SELECT status FROM ${this.s}.reconciliations WHERE pipeline = $1 AND day = $2 AND job_id = $3`, [rec.pipeline, rec.date, rec.job_id]);
      const key = held[0]?.status === 'published' ? `${rec.job_id} at ${rec.reconciled_at}` : rec.job_id;
      await tx.query(
        `INSERT INTO ${this.s}.reconciliations (pipeline, day, job_id, status, generation, report_json, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (pipeline, day, job_id) DO UPDATE SET status = excluded.status, generation = excluded.generation, report_json = excluded.report_json, at_ms = excluded.at_ms`,
        [rec.pipeline, rec.date, key, rec.status, rec.generation, JSON.stringify(rec), this.now()]);
    });
  }

  async publishDay(pipeline: string, day: string, records: readonly ResultRecord[], meta: { jobId: string; provenance: 'reconciled' }): Promise<PublishOutcome> {
    return this.rewriting(async (tx) => {
      await refusePrunedDay(tx, this.s, pipeline, day);
      return this.versions.publish(tx, pipeline, day, records, meta, this.now());
    });
  }

  /** Makes the version that was live before the current one live again (one atomic switch). */
  async revert(pipeline: string, day: string): Promise<{ from: number; to: number; corrections: number }> {
    return this.rewriting((tx) => this.versions.revert(tx, pipeline, day, this.now()));
  }

  /**
   * Upserts recomputed cells into the day's live version (provenance `backfill`) and consumes the dirty
   * cells read for them, in one transaction of set-based statements; `progress` hears each step.
   */
  async upsertBackfill(pipeline: string, day: string, records: readonly ResultRecord[], consumed: readonly DirtyCell[], meta: { jobId: string; progress?: (what: string) => void | Promise<void> }): Promise<{ changed: number }> {
    return this.rewriting(async (tx) => {
      await refusePrunedDay(tx, this.s, pipeline, day);
      return this.versions.backfill(tx, pipeline, day, records, consumed, meta, this.now());
    });
  }

  // ---- retention (store/store-retention.ts) --------------------------------------------------------

  /** The days `policy` deletes something of, with the rows per table (what `concord prune --dry-run` says). */
  prunePlan(policy: RetentionPolicy, pipelines?: readonly string[]): Promise<PruneDay[]> {
    return new StoreRetention(this.s, this.registry, this.sealDelayMs).plan(this.db, policy, pipelines);
  }

  /** The stream's verdicts on events `policy` deletes, per input schema of `pipelines` (verdict-retention.ts). */
  verdictPlan(policy: RetentionPolicy, pipelines?: readonly string[]): Promise<PruneVerdicts[]> {
    return new VerdictRetention(this.s, this.registry, this.sealDelayMs).plan(this.db, policy, pipelines);
  }

  /** Deletes what `policy` deletes of `schema`'s verdicts, in one transaction; what went (null: nothing, any more). */
  pruneVerdicts(policy: RetentionPolicy, schema: string): Promise<PruneVerdicts | null> {
    return this.db.transaction((tx) => new VerdictRetention(this.s, this.registry, this.sealDelayMs).prune(tx, policy, schema));
  }

  /** The rows held of `pipeline` per day and table, and its pruned days (what a prune left). */
  heldRows(pipeline: string): Promise<{ days: Record<string, Record<string, number>>; pruned: string[] }> {
    return new StoreRetention(this.s, this.registry, this.sealDelayMs).heldRows(this.db, pipeline);
  }

  /** Deletes what `policy` deletes of one day, in one transaction; what went (null: nothing, any more). */
  pruneDay(policy: RetentionPolicy, pipeline: string, day: string): Promise<PruneDay | null> {
    return this.rewriting((tx) => new StoreRetention(this.s, this.registry, this.sealDelayMs).pruneDay(tx, policy, pipeline, day, this.now()));
  }

  /**
   * Archive files written after this instant (epoch ms, wall clock) are news to the day's live version:
   * set by each reconcile (when it began reading the archive) and each archive check; before the first
   * check, when the live version was switched to. Null: the day was never reconciled.
   */
  async archiveCheckedThrough(pipeline: string, day: string): Promise<number | null> {
    const rows = await this.db.query(
      `SELECT l.generation, l.switched_at, c.checked_through FROM ${this.s}.day_live l
       LEFT JOIN ${this.s}.archive_checks c ON c.pipeline = l.pipeline AND c.day = l.day WHERE l.pipeline = $1 AND l.day = $2`, [pipeline, day]);
    const r = rows[0];
    if (!r || Number(r.generation) === 0) return null;
    return r.checked_through === null || r.checked_through === undefined ? Number(r.switched_at) : Number(r.checked_through);
  }

  /** When the day's first version was published (epoch ms); null: never reconciled. */
  async firstPublishedAt(pipeline: string, day: string): Promise<number | null> {
    const rows = await this.db.query(`SELECT min(created_at) AS at FROM ${this.s}.day_versions WHERE pipeline = $1 AND day = $2`, [pipeline, day]);
    const at = rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
  }

  async setArchiveCheckedThrough(pipeline: string, day: string, at: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO ${this.s}.archive_checks (pipeline, day, checked_through) VALUES ($1, $2, $3)
         ON CONFLICT (pipeline, day) DO UPDATE SET checked_through = excluded.checked_through`, [pipeline, day, Math.floor(at)]);
    });
  }

  /** Marks cells dirty (e.g. those archive content added after the day's reconcile touches), one statement. */
  async markDirty(pipeline: string, cells: readonly { day: string; windowStart: number; key: KeyValues }[], reason: string): Promise<void> {
    if (cells.length === 0) return;
    await this.db.transaction((tx) => markDirtyCells(tx, this.s, pipeline, cells, reason, this.now()));
  }
}

export { dayOf };
