import { sqlText, type SqlDriver } from './sql-driver.ts';
import { envNumber } from '../pipeline/env-number.ts';
import { streamStartSql } from './stream-starts.ts';

/**
 * What the one writer of an embedded (DuckDB) store knows about what it wrote, so a live flush needs
 * no lookups and no upserts: each pipeline's watermark, each day's live generation, and the stored
 * revision of generation 0's cells per (pipeline, window start).
 *
 * Exact, not a guess: a DuckDB file has one writing process and this store is its only writer, so
 * nothing changes the tables behind its back. Windows are loaded on first touch (one query per flush
 * for all missing ones) and evicted least-recently-used past `maxCells`; a window starting after the
 * newest one stored (the frontier: every window the stream fires live) is known empty without a query.
 * The store mutates it inside the write transaction and calls `clear()` when one fails (or after a
 * reconcile, backfill or revert, which write outside the live path).
 */
export class LiveIndex {
  private readonly schema: string;
  private readonly maxCells: number;
  private watermarks: Map<string, number> | undefined;
  private readonly liveGenerations = new Map<string, number>();
  /** pipeline -> the newest window start of its generation 0 (-Infinity: none). */
  private readonly frontiers = new Map<string, number>();
  /** pipeline \0 window start -> cell -> stored revision; Map order is recency. */
  private readonly windows = new Map<string, Map<string, number>>();
  private cells = 0;

  constructor(schema: string, maxCells = envNumber('CONCORD_STORE_INDEX_CELLS', 2_000_000, { integer: true, min: 1, unit: 'cells' })) {
    this.schema = schema;
    this.maxCells = maxCells;
  }

  clear(): void {
    this.watermarks = undefined;
    this.liveGenerations.clear();
    this.frontiers.clear();
    this.windows.clear();
    this.cells = 0;
  }

  async watermarksIn(tx: SqlDriver): Promise<Map<string, number>> {
    if (!this.watermarks) {
      const rows = await tx.query(`SELECT pipeline, watermark FROM ${this.schema}.watermarks`);
      this.watermarks = new Map(rows.map((r) => [String(r.pipeline), Number(r.watermark)]));
    }
    return this.watermarks;
  }

  /**
   * Writes W if it moved forward (plain insert or update: the index knows whether the row exists); the
   * pipeline's first W is its stream's start too (store/stream-starts.ts), written at `at`.
   */
  async raiseWatermark(tx: SqlDriver, pipeline: string, w: number, at: number): Promise<void> {
    const known = await this.watermarksIn(tx);
    const stored = known.get(pipeline);
    if (stored !== undefined && w <= stored) return;
    // Sent with the next statement or the commit: W is a finite number (the store skips others).
    const sql = stored === undefined
      ? [streamStartSql(this.schema, pipeline, w, at, true), `INSERT INTO ${this.schema}.watermarks (pipeline, watermark) VALUES (${sqlText(pipeline)}, ${w})`]
      : [`UPDATE ${this.schema}.watermarks SET watermark = ${w} WHERE pipeline = ${sqlText(pipeline)}`];
    for (const statement of sql) {
      if (tx.defer) tx.defer(statement);
      else await tx.execute(statement);
    }
    known.set(pipeline, w);
  }

  /** The live generation of each (pipeline, day) of `items` (0: the stream's own rows). */
  async liveGenerationsOf(tx: SqlDriver, items: readonly { pipeline: string; day: string }[]): Promise<Map<string, number>> {
    for (const i of items) {
      const id = `${i.pipeline}\u0000${i.day}`;
      if (this.liveGenerations.has(id)) continue;
      const rows = await tx.query(`SELECT generation FROM ${this.schema}.day_live WHERE pipeline = $1 AND day = $2`, [i.pipeline, i.day]);
      this.liveGenerations.set(id, rows[0] ? Number(rows[0].generation) : 0);
    }
    return this.liveGenerations;
  }

  /**
   * The windows of `rows` (generation 0), each cell with its stored revision: loaded if not known, and
   * marked recently used. The caller records what it writes into them (`noteWritten`).
   */
  async windowsOf(tx: SqlDriver, rows: readonly { pipeline: string; windowStart: number }[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    const missing = new Map<string, { pipeline: string; windowStart: number }>();
    for (const r of rows) {
      const id = `${r.pipeline}\u0000${r.windowStart}`;
      if (out.has(id) || missing.has(id)) continue;
      let window = this.windows.get(id);
      if (window) this.windows.delete(id); // re-inserted below: Map order is recency
      else if (r.windowStart > (await this.frontier(tx, r.pipeline))) window = new Map();
      else {
        missing.set(id, r);
        continue;
      }
      this.windows.set(id, window);
      out.set(id, window);
    }
    if (missing.size > 0) {
      for (const [id, window] of await this.load(tx, [...missing.values()])) {
        this.windows.set(id, window);
        out.set(id, window);
      }
    }
    return out;
  }

  /** Records a cell's revision written by the transaction in progress (`window` from `windowsOf`). */
  noteWritten(window: Map<string, number>, pipeline: string, windowStart: number, cell: string, revision: number): void {
    const stored = window.get(cell);
    if (stored === undefined) this.cells++;
    if (stored === undefined || revision > stored) window.set(cell, revision);
    if (windowStart > (this.frontiers.get(pipeline) ?? Number.NEGATIVE_INFINITY)) this.frontiers.set(pipeline, windowStart);
  }

  /** Evicts least recently used windows past the cap (never the ones of the flush in progress: call after it). */
  trim(): void {
    for (const [id, window] of this.windows) {
      if (this.cells <= this.maxCells) return;
      this.windows.delete(id);
      this.cells -= window.size;
    }
  }

  private async frontier(tx: SqlDriver, pipeline: string): Promise<number> {
    let f = this.frontiers.get(pipeline);
    if (f === undefined) {
      const rows = await tx.query(`SELECT max(window_start) AS ws FROM ${this.schema}.result_rows WHERE pipeline = $1 AND generation = 0`, [pipeline]);
      f = rows[0]?.ws === null || rows[0]?.ws === undefined ? Number.NEGATIVE_INFINITY : Number(rows[0].ws);
      this.frontiers.set(pipeline, f);
    }
    return f;
  }

  private async load(tx: SqlDriver, windows: readonly { pipeline: string; windowStart: number }[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    const byPipeline = new Map<string, number[]>();
    for (const w of windows) {
      const starts = byPipeline.get(w.pipeline);
      if (starts) starts.push(w.windowStart);
      else byPipeline.set(w.pipeline, [w.windowStart]);
    }
    for (const [pipeline, starts] of byPipeline) {
      for (const ws of starts) out.set(`${pipeline}\u0000${ws}`, new Map());
      // Window starts are numbers (epoch ms): inlined, no injection surface.
      const rows = await tx.query(
        `SELECT window_start, cell, revision FROM ${this.schema}.result_rows
         WHERE pipeline = $1 AND generation = 0 AND window_start IN (${starts.map((ws) => String(Math.trunc(ws))).join(', ')})`, [pipeline]);
      for (const r of rows) {
        out.get(`${pipeline}\u0000${Number(r.window_start)}`)!.set(String(r.cell), Number(r.revision));
        this.cells++;
      }
    }
    return out;
  }
}
