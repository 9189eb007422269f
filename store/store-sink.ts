import type { LoggedLate } from '../reconcile/reconcile.ts';
import type { LateRecord, ResultRecord } from '../schemas/results.ts';
import type { SqlResultStore } from './sql-store.ts';

/**
 * Feeds the store from a running stream (in-process or from the Kafka output topics): results,
 * late events and watermarks are buffered and written in batches. Every write is an idempotent upsert,
 * so a sink that restarts and sees records again (at-least-once) changes nothing twice.
 */
export class StoreSink {
  private readonly store: SqlResultStore;
  private readonly batchSize: number;
  private results: ResultRecord[] = [];
  private late = new Map<string, LoggedLate[]>();
  private watermarks = new Map<string, number>();
  private pending = 0;
  private sinceCheckpoint = 0;
  private readonly checkpointEvery: number;
  written = { results: 0, late: 0 };

  /** `checkpointEvery`: rows written between two `checkpointIfDue` checkpoints. */
  constructor(store: SqlResultStore, batchSize = 5_000, checkpointEvery = 50_000) {
    this.store = store;
    this.batchSize = batchSize;
    this.checkpointEvery = checkpointEvery;
  }

  result(r: ResultRecord): void {
    this.results.push(r);
    this.pending++;
    if (r.watermark !== null && Number.isFinite(r.watermark)) this.watermarks.set(r.pipeline, Math.max(this.watermarks.get(r.pipeline) ?? r.watermark, r.watermark));
  }

  lateEvent(record: LateRecord, evaluatedOnArrival: boolean): void {
    let list = this.late.get(record.pipeline);
    if (!list) this.late.set(record.pipeline, (list = []));
    list.push({ record, evaluatedOnArrival });
    this.pending++;
  }

  watermark(pipeline: string, w: number): void {
    if (Number.isFinite(w)) this.watermarks.set(pipeline, Math.max(this.watermarks.get(pipeline) ?? w, w));
  }

  /** The write in flight (one at most): the stream keeps computing while the store commits. */
  private writing: Promise<void> | undefined;

  /**
   * Starts writing a full batch without waiting for it: the database works (DuckDB in its own threads,
   * PostgreSQL in its process) while the stream computes the next batch. At most one write is in
   * flight: a second full batch waits for the first (backpressure). A failed write fails the next call.
   */
  async maybeFlush(): Promise<void> {
    if (this.pending < this.batchSize) return;
    await this.writing;
    const w = this.write();
    w.catch(() => undefined); // surfaced by the next maybeFlush, flush or checkpointIfDue, which await it
    this.writing = w;
  }

  /** Writes everything buffered and waits until it is committed. */
  async flush(): Promise<void> {
    await this.writing;
    this.writing = undefined;
    await this.write();
  }

  private async write(): Promise<void> {
    const results = this.results;
    const late = this.late;
    const watermarks = this.watermarks;
    this.results = [];
    this.late = new Map();
    this.watermarks = new Map();
    this.pending = 0;
    // One transaction: rows, then late events (their cells' days may have been reconciled), then W (seals days).
    await this.store.writeBatch({ results, late, watermarks });
    this.written.results += results.length;
    const lateRows = [...late.values()].reduce((n, l) => n + l.length, 0);
    this.written.late += lateRows;
    this.sinceCheckpoint += results.length + lateRows;
  }

  /**
   * Checkpoints the store once enough rows were written since the last time. Call it after a flush,
   * when the results are already committed: the pause then falls between writes, not inside the commit
   * that makes a window's results durable (where DuckDB would take it on its own).
   */
  async checkpointIfDue(): Promise<boolean> {
    if (this.sinceCheckpoint < this.checkpointEvery) return false;
    await this.writing;
    this.sinceCheckpoint = 0;
    await this.store.checkpoint();
    return true;
  }
}
