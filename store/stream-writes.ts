import type { WindowSpec } from '../pipeline/windows.ts';
import type { ResultRecord } from '../schemas/results.ts';
import { dropOtherDefinition, keepReplaced, keepUnseen, markConflicting, markNews, stageRows, upsertRows, type StagedRow } from './bulk-write.ts';
import { writeLiveRows, type LiveRow } from './live-rows.ts';
import { isSealed } from './day-status.ts';
import { appendLateBulk, dirtyCellId, markDirtyFromStage, recordContradicted } from './dirty-cells.ts';
import { LiveIndex } from './live-index.ts';
import { cellOf, dayOf, dayStart, revisionOf, rowStartOf, toRow, type StoredLate, type StoredRow } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';
import { streamStartSql } from './stream-starts.ts';

export interface WriteOutcome {
  /** Rows that changed the stream's own version (a higher revision than stored). */
  applied: number;
  /** Rows kept for history only: their day is reconciled or sealed (and marked dirty). */
  diverted: number;
  /**
   * Rows another run contradicts (the store holds their cell at the same revision with other values: a
   * second input of the same windows). The stored rows stay; the cells are marked dirty (`other_run`),
   * for a backfill or reconcile to recompute from the archive. Absent: none.
   */
  conflicting?: number;
}

/**
 * One (pipeline, window start) of a batch: per cell, the record at the highest revision (one statement
 * may not touch a row twice). Records, not stored rows: the live path packs them straight into text.
 */
interface BatchWindow {
  pipeline: string;
  windowStart: number;
  day: string;
  cells: Map<string, ResultRecord>;
  /**
   * The batch's other records of those cells, below the highest revision: never written, but checked
   * against the stored rows for another run's values (a run's revisions 0 and 1 of a cell in one flush:
   * only revision 1 was looked at, which beats another run's stored revision 0 as a plain update).
   */
  superseded: ResultRecord[];
}

/** The dirty cell a stream row marks: its own, or for an alert its key's day (the key's alerts are redone). */
function dirtyTargetOf(row: StoredRow): { dirtyWs: number; dirtyCell: string } {
  return row.kind === 'alert' ? { dirtyWs: dayStart(row.day), dirtyCell: dirtyCellId(row.key) } : { dirtyWs: row.windowStart, dirtyCell: row.cell };
}

/**
 * The batch's records grouped per (pipeline, window start), the highest revision per cell. A window's
 * results come in one run (it fires all its cells at once): its id and lookup are made once per run.
 */
function latestPerCell(records: readonly ResultRecord[]): Map<string, BatchWindow> {
  const out = new Map<string, BatchWindow>();
  let w: BatchWindow | undefined;
  for (const r of records) {
    const start = rowStartOf(r);
    if (w === undefined || w.pipeline !== r.pipeline || w.windowStart !== start) {
      const id = `${r.pipeline}\u0000${start}`;
      w = out.get(id);
      if (!w) out.set(id, (w = { pipeline: r.pipeline, windowStart: start, day: dayOf(start), cells: new Map(), superseded: [] }));
    }
    const cell = cellOf(r);
    const seen = w.cells.get(cell);
    if (!seen || revisionOf(seen) < revisionOf(r)) {
      w.cells.set(cell, r);
      if (seen) w.superseded.push(seen);
    } else w.superseded.push(r);
  }
  return out;
}

/** The superseded records of the batch as rows to check for another run's values (`markConflicting`). */
function supersededRows(windows: ReadonlyMap<string, BatchWindow>, writtenAt: number): StagedRow[] {
  const out: StagedRow[] = [];
  for (const w of windows.values()) {
    for (const record of w.superseded) {
      const row = toRow(record, { generation: 0, writtenAt });
      out.push({ row, ...dirtyTargetOf(row) });
    }
  }
  return out;
}

const CHUNK = 400;
function chunks<T>(items: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/**
 * The stream's write path into the store, one flush per transaction (the store opens it): results
 * into generation 0, late events, watermarks. Rows of a day that still shows generation 0 go in
 * directly; rows of a sealed or reconciled day update generation 0 only, and dirty the cells they
 * change. On embedded DuckDB the one writer's memory of what it stored (`live`) makes the first case
 * plain inserts and updates with no lookups.
 */
export class StreamWrites {
  /** What the sole writer stored (keyless DuckDB stores); undefined: look it up (PostgreSQL, keyed stores). */
  readonly live: LiveIndex | undefined;
  private readonly s: string;
  private readonly keyless: boolean;
  private readonly now: () => number;
  private readonly sealDelayMs: number;
  /** A pipeline's window (store/day-status.ts: a day is sealed after its last window's end). */
  private readonly windowOf: (pipeline: string) => WindowSpec | undefined;

  /** The pipelines whose stream start this process recorded or found recorded (PostgreSQL, keyed stores). */
  private readonly startChecked = new Set<string>();

  /** After a failed transaction: what it wrote of the stream starts was rolled back. */
  clear(): void {
    this.live?.clear();
    this.startChecked.clear();
  }

  constructor(schema: string, keyless: boolean, o: { now: () => number; sealDelayMs: number; windowOf: (pipeline: string) => WindowSpec | undefined }) {
    this.s = schema;
    this.keyless = keyless;
    this.live = keyless ? new LiveIndex(schema) : undefined;
    this.now = o.now;
    this.sealDelayMs = o.sealDelayMs;
    this.windowOf = o.windowOf;
  }

  /** The stream's results (any pipeline, any day) into generation 0, guarded by revision. */
  async results(tx: SqlDriver, records: readonly ResultRecord[]): Promise<WriteOutcome> {
    const writtenAt = this.now();
    const windows = latestPerCell(records);
    const holds = await this.holds(tx, [...windows.values()]);
    if (this.live && ![...holds.values()].some((h) => h.sealed || h.reconciled)) return this.liveRows(tx, this.live, windows, writtenAt);
    // Before the batch's rows are staged (a stage replaces the one before it in the transaction).
    const superseded = supersededRows(windows, writtenAt);
    const conflictingBefore = superseded.length > 0 ? await this.markConflicting(tx, await stageRows(tx, this.s, superseded)) : 0;
    let held = false;
    const staged: StagedRow[] = [];
    for (const w of windows.values()) {
      const h = holds.get(`${w.pipeline}\u0000${w.day}`);
      const hold = h?.sealed ? 'sealed_day' : h?.reconciled ? 'late_after_reconcile' : null;
      held ||= hold !== null;
      for (const record of w.cells.values()) {
        const row = toRow(record, { generation: 0, writtenAt });
        // Sealed days with no reconciled version show generation 0: keep it unchanged.
        staged.push({ row, hold, visible: !(h?.sealed && !h.reconciled), ...dirtyTargetOf(row) });
      }
    }
    const stage = await stageRows(tx, this.s, staged);
    let diverted = 0;
    if (held) {
      // Rows for a reconciled or sealed day: only those that change a cell dirty it (and count as late-delta).
      await markNews(tx, this.s, stage);
      for (const c of await tx.query(`SELECT pipeline, day, hold, count(*) AS n FROM ${stage} WHERE news = 1 GROUP BY pipeline, day, hold`)) {
        diverted += Number(c.n);
        if (c.hold === 'sealed_day') await this.addLateDelta(tx, String(c.pipeline), String(c.day), Number(c.n));
      }
      if (diverted > 0) await markDirtyFromStage(tx, this.s, stage, this.now());
    }
    const conflicting = conflictingBefore + await this.markConflicting(tx, stage);
    // Counted and dirtied above; a row of another definition version never replaces the stored one.
    const dropped = conflicting > 0 ? await dropOtherDefinition(tx, this.s, stage) : new Set<string>();
    if (staged.some((s) => s.visible === false)) await keepUnseen(tx, this.s, stage);
    await keepReplaced(tx, this.s, stage, { keyless: this.keyless });
    const applied = await upsertRows(tx, this.s, stage, { keyless: this.keyless });
    if (this.live) {
      const visible = staged.filter((s) => s.visible !== false && !dropped.has(`${s.row.pipeline}\u0000${s.row.windowStart}\u0000${s.row.cell}`)).map((s) => s.row);
      const stored = await this.live.windowsOf(tx, visible);
      for (const r of visible) this.live.noteWritten(stored.get(`${r.pipeline}\u0000${r.windowStart}`)!, r.pipeline, r.windowStart, r.cell, r.revision);
      this.live.trim();
    }
    return { applied, diverted, ...(conflicting > 0 ? { conflicting } : {}) };
  }

  /** Marks the cells of staged rows another run contradicts dirty (`markConflicting`); how many rows. */
  private async markConflicting(tx: SqlDriver, stage: string): Promise<number> {
    const n = await markConflicting(tx, this.s, stage);
    if (n > 0) {
      await markDirtyFromStage(tx, this.s, stage, this.now(), 'other_run');
      await recordContradicted(tx, this.s, stage, this.now());
    }
    return n;
  }

  /** Rows of days that show generation 0 (none held), written by the sole writer without lookups. */
  private async liveRows(tx: SqlDriver, live: LiveIndex, windows: ReadonlyMap<string, BatchWindow>, writtenAt: number): Promise<WriteOutcome> {
    const stored = await live.windowsOf(tx, [...windows.values()]);
    // Until noteWritten below, `stored` holds what was stored before this batch.
    const rows: LiveRow[] = [];
    const counts = { fresh: 0, updated: 0 };
    const replayed: StagedRow[] = [];
    for (const [id, w] of windows) {
      const window = stored.get(id)!;
      for (const [cell, record] of w.cells) {
        const revision = window.get(cell);
        // At or below the stored revision: a replayed row, which changes nothing (as the guarded upsert),
        // unless another run's values are stored at that revision (checked below, for these rows only).
        if (revision !== undefined && revisionOf(record) <= revision) {
          const row = toRow(record, { generation: 0, writtenAt });
          replayed.push({ row, ...dirtyTargetOf(row) });
          continue;
        }
        // A higher revision of a stored cell: checked too, as it must not replace another definition's row.
        if (revision !== undefined) {
          const row = toRow(record, { generation: 0, writtenAt });
          replayed.push({ row, ...dirtyTargetOf(row) });
        }
        rows.push({ record, cell, day: w.day, fresh: revision === undefined });
        counts[revision === undefined ? 'fresh' : 'updated']++;
      }
    }
    replayed.push(...supersededRows(windows, writtenAt));
    const stage = replayed.length > 0 ? await stageRows(tx, this.s, replayed) : null;
    const conflicting = stage ? await this.markConflicting(tx, stage) : 0;
    // Rows of another definition version that would replace a stored row: counted and dirtied, kept out.
    const dropped = stage && conflicting > 0 ? await dropOtherDefinition(tx, this.s, stage) : new Set<string>();
    const keep = (pipeline: string, windowStart: number, cell: string) => !dropped.has(`${pipeline}\u0000${windowStart}\u0000${cell}`);
    const written = dropped.size === 0 ? rows : rows.filter((r) => keep(r.record.pipeline, rowStartOf(r.record), r.cell));
    if (written.length < rows.length) counts.updated -= rows.length - written.length;
    await writeLiveRows(tx, this.s, written, counts, writtenAt);
    for (const [id, w] of windows) {
      const window = stored.get(id)!;
      for (const [cell, record] of w.cells) if (keep(w.pipeline, w.windowStart, cell)) live.noteWritten(window, w.pipeline, w.windowStart, cell, revisionOf(record));
    }
    live.trim();
    return { applied: counts.fresh + counts.updated, diverted: 0, ...(conflicting > 0 ? { conflicting } : {}) };
  }

  /** Late events (idempotent per source offset); a new one for a sealed or reconciled day dirties its cell. */
  async lateEvents(tx: SqlDriver, stored: readonly StoredLate[]): Promise<number> {
    const holds = await this.holds(tx, stored.flatMap((l) => [l, ...l.alsoChanges.map((ws) => ({ pipeline: l.pipeline, day: dayOf(ws) }))]));
    return appendLateBulk(tx, this.s, stored, (pipeline, day) => {
      const h = holds.get(`${pipeline}\u0000${day}`);
      return h?.sealed ? 'sealed_day' : h?.reconciled ? 'late_after_reconcile' : null;
    }, this.now());
  }

  /** A pipeline's W, kept if it moves forward (it seals days). */
  async watermark(tx: SqlDriver, pipeline: string, w: number): Promise<void> {
    if (this.live) return this.live.raiseWatermark(tx, pipeline, w, this.now());
    // The pipeline's first W is its stream's start (store/stream-starts.ts): asked once per process and
    // pipeline (another writer may have written the first W; the statement writes nothing then).
    if (!this.startChecked.has(pipeline)) {
      await tx.execute(streamStartSql(this.s, pipeline, w, this.now(), false));
      this.startChecked.add(pipeline);
    }
    await tx.query(
      `INSERT INTO ${this.s}.watermarks (pipeline, watermark) VALUES ($1, $2)
       ON CONFLICT (pipeline) DO UPDATE SET watermark = excluded.watermark WHERE excluded.watermark > ${this.s}.watermarks.watermark`,
      [pipeline, w]);
  }

  /** Per (pipeline, day) of `items`: is it sealed, is a reconciled version live. */
  private async holds(tx: SqlDriver, all: readonly { pipeline: string; day: string }[]): Promise<Map<string, { sealed: boolean; reconciled: boolean }>> {
    const days = new Map<string, { pipeline: string; day: string }>();
    for (const i of all) {
      const id = `${i.pipeline}\u0000${i.day}`;
      if (!days.has(id)) days.set(id, i);
    }
    const items = [...days.values()];
    const watermarks = this.live ? await this.live.watermarksIn(tx) : await this.watermarksIn(tx);
    const live = this.live ? await this.live.liveGenerationsOf(tx, items) : await this.liveGenerations(tx, items);
    const out = new Map<string, { sealed: boolean; reconciled: boolean }>();
    for (const i of items) {
      const id = `${i.pipeline}\u0000${i.day}`;
      if (!out.has(id)) out.set(id, { sealed: isSealed(i.day, watermarks.get(i.pipeline), this.sealDelayMs, this.windowOf(i.pipeline)), reconciled: (live.get(id) ?? 0) > 0 });
    }
    return out;
  }

  private async watermarksIn(tx: SqlDriver): Promise<Map<string, number>> {
    const rows = await tx.query(`SELECT pipeline, watermark FROM ${this.s}.watermarks`);
    return new Map(rows.map((r) => [String(r.pipeline), Number(r.watermark)]));
  }

  private async liveGenerations(tx: SqlDriver, items: readonly { pipeline: string; day: string }[]): Promise<Map<string, number>> {
    const pairs = [...new Set(items.map((i) => `${i.pipeline}\u0000${i.day}`))];
    const out = new Map<string, number>();
    for (const part of chunks(pairs)) {
      const params = part.flatMap((p) => p.split('\u0000'));
      const rows = await tx.query(
        `SELECT pipeline, day, generation FROM ${this.s}.day_live WHERE ${part.map((_, i) => `(pipeline = $${2 * i + 1} AND day = $${2 * i + 2})`).join(' OR ')}`, params);
      for (const r of rows) out.set(`${String(r.pipeline)}\u0000${String(r.day)}`, Number(r.generation));
    }
    return out;
  }

  private async addLateDelta(tx: SqlDriver, pipeline: string, day: string, n: number): Promise<void> {
    await tx.query(
      `INSERT INTO ${this.s}.late_delta (pipeline, day, n) VALUES ($1, $2, $3) ON CONFLICT (pipeline, day) DO UPDATE SET n = ${this.s}.late_delta.n + excluded.n`,
      [pipeline, day, n]);
  }
}
