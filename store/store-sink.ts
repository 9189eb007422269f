import type { LoggedLate } from '../reconcile/reconcile.ts';
import type { DeadLetter, LateRecord, ResultRecord } from '../schemas/results.ts';
import { quarantineRecord, type QuarantineRecord } from './quarantine-records.ts';
import { rejectionRecord, type RejectionRecord } from './rejection-records.ts';
import type { InputEnd } from './input-ends.ts';
import type { SinkOffsets } from './sink-offsets.ts';
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
  private quarantined: QuarantineRecord[] = [];
  private rejected: RejectionRecord[] = [];
  private watermarks = new Map<string, number>();
  /** Pipelines whose bounded input ended (`inputEnded`): written with the next batch, after its rows. */
  private ended = new Map<string, InputEnd>();
  /** How far the stream read each source per pipeline since the last write (`reached`): written with the next one. */
  private reach = new Map<string, Map<string, number>>();
  /** A Kafka sink's group and how far its reads are once what is buffered is written (sink-offsets.ts). */
  private offsets: { groupId: string; next: Map<string, Map<number, number>> } | undefined;
  /** The W last handed to a write per pipeline: a reported W at or below it is not written again. */
  private readonly watermarksWritten = new Map<string, number>();
  /** A reported W (`watermark`) moved past what was written: the next `maybeFlush` writes, rows or not. */
  private watermarkMoved = false;
  private pending = 0;
  private sinceCheckpoint = 0;
  private readonly checkpointEvery: number;
  private readonly maxPending: number;
  /** `conflicting`: results another run contradicts (kept out, their cells marked dirty: stream-writes.ts). */
  written = { results: 0, late: 0, conflicting: 0 };

  /**
   * `batchSize`: rows that start a write; `checkpointEvery`: rows written between two `checkpointIfDue`
   * checkpoints; `maxPending`: rows buffered while a write is in flight before the stream waits for it.
   */
  constructor(store: SqlResultStore, batchSize = 5_000, checkpointEvery = 500_000, maxPending = Math.max(batchSize, 100_000)) {
    this.store = store;
    this.batchSize = batchSize;
    this.checkpointEvery = checkpointEvery;
    this.maxPending = maxPending;
  }

  result(r: ResultRecord): void {
    this.results.push(r);
    this.pending++;
    if (r.watermark !== null && Number.isFinite(r.watermark)) this.watermarks.set(r.pipeline, Math.max(this.watermarks.get(r.pipeline) ?? r.watermark, r.watermark));
  }

  /** Records read up to `next` (the offset after the last) of a topic's partition by sink group `groupId`: written with the next batch. */
  readTo(groupId: string, topic: string, partition: number, next: number): void {
    this.offsets ??= { groupId, next: new Map() };
    const partitions = this.offsets.next.get(topic) ?? new Map<number, number>();
    partitions.set(partition, Math.max(partitions.get(partition) ?? next, next));
    this.offsets.next.set(topic, partitions);
  }

  /**
   * The stream read `source` for `pipeline` up to `next` (the offset after the last line it read), and
   * every row it decided from those lines was handed to this sink: written with the next write, in the
   * transaction of those rows (store/stream-reach.ts). Starts no write of its own.
   */
  reached(pipeline: string, source: string, next: number): void {
    const sources = this.reach.get(pipeline) ?? new Map<string, number>();
    sources.set(source, next);
    this.reach.set(pipeline, sources);
  }

  lateEvent(record: LateRecord, evaluatedOnArrival: boolean, decidedAfterWakeup?: LoggedLate['decidedAfterWakeup']): void {
    let list = this.late.get(record.pipeline);
    if (!list) this.late.set(record.pipeline, (list = []));
    list.push({ record, evaluatedOnArrival, ...(decidedAfterWakeup ? { decidedAfterWakeup } : {}) });
    this.pending++;
  }

  /**
   * A dead letter of input schema `schema`: kept when the stream quarantined the event for its time
   * (future_timestamp, past_horizon), or refused an object of a known time for a field (reconcile's evidence that it never counted
   * it), written with the next batch.
   */
  deadLetter(d: DeadLetter, schema: string): void {
    const record = quarantineRecord(d, schema);
    if (record !== null) this.quarantine(record);
    const refused = record === null ? rejectionRecord(d, schema) : null;
    if (refused !== null) this.reject(refused);
  }

  /** A refusal for a field (read from the workers' dead-letter topic), written with the next batch. */
  reject(record: RejectionRecord): void {
    this.rejected.push(record);
    this.pending++;
  }

  /** A time-quarantine verdict (read from the workers' dead-letter topic), written with the next batch. */
  quarantine(record: QuarantineRecord): void {
    this.quarantined.push(record);
    this.pending++;
  }

  /**
   * The stream's W of `pipeline`, reported once every result and late event it decided was handed to
   * this sink (in-process: after each batch of input): written in the same transaction as those rows,
   * never before them. A W beyond the one last written makes the next `maybeFlush` write, so the store's
   * W moves with the stream even when no row comes (a rule's alerts are rare), once per batch at most.
   */
  watermark(pipeline: string, w: number): void {
    if (!Number.isFinite(w)) return;
    this.watermarks.set(pipeline, Math.max(this.watermarks.get(pipeline) ?? w, w));
    if (w > (this.watermarksWritten.get(pipeline) ?? Number.NEGATIVE_INFINITY)) this.watermarkMoved = true;
  }

  /**
   * The bounded input of `pipeline` ended and every row it decided was handed to this sink: written with
   * the next write (`flush`), in the transaction of the last rows (store/input-ends.ts).
   */
  inputEnded(pipeline: string, end: InputEnd): void {
    this.ended.set(pipeline, end);
  }

  /** `watermark` for each pipeline of a stream's W (runtime.ts `inputWatermarks`). */
  watermarksOf(ws: Readonly<Record<string, number>>): void {
    for (const [pipeline, w] of Object.entries(ws)) this.watermark(pipeline, w);
  }

  /**
   * An in-process stream's step after each batch of input (runtime.ts `afterBatch`): the W per pipeline
   * it reached (every row it decided is buffered here by then), and `maybeFlush`.
   */
  afterBatch(ws: Readonly<Record<string, number>>): Promise<void> {
    this.watermarksOf(ws);
    return this.maybeFlush();
  }

  /** The write (or checkpoint) in flight, one at most: the stream keeps computing while the store commits. */
  private writing: Promise<void> | undefined;
  private inFlight = false;

  /**
   * Starts writing what is buffered once a batch is full, without waiting: the database works (DuckDB in
   * its own threads, PostgreSQL in its process) while the stream computes. While a write is in flight the
   * sink buffers on (group commit: the next write takes everything that came meanwhile, so a slow store
   * gets fewer, larger writes) and lets the write's statements progress: a stream fed from memory never
   * reaches the event loop by itself (its awaits are microtasks), and each statement of the write needs
   * it. Past `maxPending` rows the stream waits for the write (backpressure). A reported W that moved
   * starts a write too (with the rows buffered, however few), once no write is in flight. A failed write
   * fails the next call.
   */
  async maybeFlush(): Promise<void> {
    if (this.inFlight) {
      if (this.pending < this.maxPending) return new Promise((resolve) => setImmediate(resolve));
      await this.writing;
    }
    if (this.pending < this.batchSize && !this.watermarkMoved) return;
    await this.writing; // settled: surfaces a failed write
    this.track(this.write());
  }

  private track(w: Promise<void>): void {
    this.inFlight = true;
    w.catch(() => undefined).finally(() => { if (this.writing === w) this.inFlight = false; }); // errors surface where it is awaited
    this.writing = w;
  }

  /** Waits for the write in flight, if any, without starting one (a failed write throws here). */
  async settled(): Promise<void> {
    await this.writing;
  }

  /** Writes everything buffered and waits until it is committed. */
  async flush(): Promise<void> {
    await this.writing;
    this.writing = undefined;
    this.inFlight = false;
    await this.write();
  }

  private async write(): Promise<void> {
    const results = this.results;
    const late = this.late;
    const watermarks = this.watermarks;
    const quarantined = this.quarantined;
    const rejected = this.rejected;
    const ended = this.ended;
    const reach = this.reach;
    const offsets: SinkOffsets | undefined = this.offsets;
    this.offsets = undefined;
    this.results = [];
    this.late = new Map();
    this.quarantined = [];
    this.rejected = [];
    this.ended = new Map();
    this.reach = new Map();
    this.watermarks = new Map();
    this.watermarkMoved = false;
    for (const [pipeline, w] of watermarks) this.watermarksWritten.set(pipeline, Math.max(this.watermarksWritten.get(pipeline) ?? w, w));
    this.pending = 0;
    // One transaction: rows, then late events (their cells' days may have been reconciled), then W (seals days).
    let outcome: Awaited<ReturnType<SqlResultStore['writeBatch']>>;
    try {
      outcome = await this.store.writeBatch({ results, late, watermarks, quarantined, rejected, ...(offsets ? { offsets } : {}), ...(ended.size > 0 ? { ended } : {}), ...(reach.size > 0 ? { reach } : {}) });
    } catch (error) {
      this.keep(results, late, watermarks, quarantined, rejected);
      for (const [pipeline, end] of ended) if (!this.ended.has(pipeline)) this.ended.set(pipeline, end);
      for (const [pipeline, sources] of reach) for (const [source, next] of sources) if (!this.reach.get(pipeline)?.has(source)) this.reached(pipeline, source, next);
      if (offsets) for (const [topic, partitions] of offsets.next) for (const [p, next] of partitions) this.readTo(offsets.groupId, topic, p, next);
      throw error;
    }
    this.written.results += results.length;
    this.written.conflicting += outcome.conflicting ?? 0;
    const lateRows = [...late.values()].reduce((n, l) => n + l.length, 0);
    this.written.late += lateRows;
    this.sinceCheckpoint += results.length + lateRows;
  }

  /**
   * A failed write's rows go back in front of what came since: the transaction rolled back, so the next
   * flush writes them again (a sink that waits out a store outage retries without re-reading its input).
   */
  private keep(results: ResultRecord[], late: Map<string, LoggedLate[]>, watermarks: Map<string, number>, quarantined: QuarantineRecord[], rejected: RejectionRecord[]): void {
    this.results = [...results, ...this.results];
    this.quarantined = [...quarantined, ...this.quarantined];
    this.rejected = [...rejected, ...this.rejected];
    for (const [pipeline, list] of this.late) late.set(pipeline, [...(late.get(pipeline) ?? []), ...list]);
    this.late = late;
    for (const [pipeline, w] of watermarks) this.watermark(pipeline, w);
    this.pending = this.results.length + this.quarantined.length + this.rejected.length + [...this.late.values()].reduce((n, l) => n + l.length, 0);
  }

  /**
   * Checkpoints the store once enough rows were written since the last time, between two writes (not
   * inside the commit that makes a window's results durable, where DuckDB would take it on its own).
   * It runs as the write in flight (after the one in flight now): the stream computes on meanwhile, the
   * next write waits for it.
   */
  async checkpointIfDue(): Promise<boolean> {
    if (this.sinceCheckpoint < this.checkpointEvery) return false;
    this.sinceCheckpoint = 0;
    const previous = this.writing;
    this.track((async () => {
      await previous; // a write in flight first (a failed one fails this too, and surfaces where awaited)
      await this.store.checkpoint();
    })());
    return true;
  }
}
