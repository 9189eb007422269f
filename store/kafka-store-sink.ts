import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { ProgressLine } from '../pipeline/progress-line.ts';
import { ofOtherVersion, parseLateRow, parseResultLine } from '../reconcile/realtime-input.ts';
import { BatchConsumer, CaughtUpWatch, committedOffsets, endOffsets, readLatestByKey, type InBatch, type KafkaSettings } from '../stream/kafka/client.ts';
import { ConsumerLagReport } from '../stream/kafka/consumer-lag.ts';
import { groupName, topicNames } from '../stream/kafka/topics.ts';
import type { SqlResultStore } from './sql-store.ts';
import { StoreSink } from './store-sink.ts';
import { mixedDaysMessage, MixedDaysWatch } from './mixed-days.ts';
import { SinkWatermarks } from './sink-watermarks.ts';
import { resumeFromStore } from './sink-resume.ts';
import { SinkPositions } from './sink-positions.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';
import { isRetriable, messageOf, StoreOutage } from './store-outage.ts';
import { quarantineRecordOfJson } from './quarantine-records.ts';
import { rejectionRecordOfJson } from './rejection-records.ts';

/** How often a running sink looks for days it wrote that mix two definitions (and at its end). */
const MIXED_CHECK_MS = 30_000;

export interface KafkaStoreSinkOptions {
  settings: KafkaSettings;
  store: SqlResultStore;
  /** The pipelines whose rows are written (with the B and L the workers run with); rows of others are skipped. */
  pipelines: readonly PipelineDefinition[];
  /** Consumer group (default <prefix>concord-store-sink). */
  groupId?: string;
  /** Stop once its topics are read to their end (and their watermarks written) and nothing arrived for this long. */
  stopWhenIdleMs?: number;
  log?: (line: string) => void;
  /** Metrics of the process (serve/process-metrics.ts): rows written, store write latency. */
  metrics?: ProcessMetrics;
  /** Pauses between writes to a store that does not answer (store-outage.ts; tests shorten them). */
  retryMs?: { first: number; max: number };
}

export interface KafkaStoreSinkStats {
  results: number;
  late: number;
  /** Rows of pipelines this sink does not know (another definitions file shares the topics). */
  skipped: number;
  /**
   * Result rows of another version of its pipelines (another group ran a changed definition on these
   * topics, or other B and L): not this definition's numbers, so not stored.
   */
  otherVersion: number;
  /** Late events another version of its pipelines judged late: not this definition's, so not stored either. */
  otherVersionLate: number;
}

/**
 * The workers' committed output (concord.results, concord.late, read_committed) into the result store,
 * and from their dead letters (concord.dlq) the events they quarantined for their time or refused: reconcile's
 * evidence that the stream never counted them (reconcile/stream-quarantine.ts).
 * Each batch is written to the store with how far its reads are (sink_offsets), before its offsets commit;
 * a restart resumes from the store's offsets (sink-resume.ts), also a store restored from a backup, whose
 * rows since are written again by the store's revision-guarded, idempotent upserts: nothing lost, nothing doubled.
 */
export class KafkaStoreSink {
  private readonly o: KafkaStoreSinkOptions;
  private readonly names = topicNames();
  private readonly defs: Map<string, PipelineDefinition>;
  /** The input schemas of its pipelines: the dead letters of other inputs are not this store's. */
  private readonly schemas: Set<string>;
  private readonly sink: StoreSink;
  private readonly watch: CaughtUpWatch;
  /** The partitions of each topic the group assigned this member (a bounded run finishes them; the group the others). */
  private owned = new Map<string, number[]>();
  private skipped = 0;
  private otherVersion = 0;
  private otherVersionLate = 0;
  private readonly versions: Map<string, string>;
  /** Days written whose stream rows now mix two definitions of a pipeline: checked after writes, at most every MIXED_CHECK_MS. */
  private readonly mixed = new MixedDaysWatch();
  private mixedCheckedAt = 0;
  /** The watermarks topic: how far the workers' and merge stages' committed output reached (the store's W). */
  private readonly watermarks: SinkWatermarks;
  /** The watermark write in flight (one at a time). */
  private settling: Promise<void> | undefined;
  /** Waits out a store that does not answer: the write is retried, said once when lost and once when back. */
  private readonly outage: StoreOutage;
  /** Per topic and partition, the offset below which records are in the store already (sink-resume.ts): skipped. */
  private floors = new Map<string, Map<number, number>>();
  /** The consumer's positions past the markers after each write's last record (sink-positions.ts). */
  private readonly positions: SinkPositions;
  /** The group member while it runs: the positions commit the group's offsets through it. */
  private consumer: BatchConsumer | undefined;
  private stopRun!: () => void;
  private failRun!: (error: unknown) => void;

  constructor(options: KafkaStoreSinkOptions) {
    this.o = options;
    this.defs = new Map(options.pipelines.map((p) => [p.name, p]));
    this.schemas = new Set(options.pipelines.map((p) => p.schema.name));
    this.versions = new Map(options.pipelines.map((p) => [p.name, definitionVersion(p)]));
    options.metrics?.declare({ storeRows: ['results', 'late'] });
    this.sink = new StoreSink(options.store);
    this.outage = new StoreOutage((line) => this.o.log?.(line), options.retryMs);
    this.watch = new CaughtUpWatch(options.settings, options.stopWhenIdleMs);
    this.watermarks = new SinkWatermarks(options.pipelines, [this.names.results, this.names.late], {
      ends: (topic) => endOffsets(options.settings, topic),
      next: (topic, p) => this.watch.next(topic, p),
      // A partition another member of the group writes: the offset it committed after its write.
      committed: (topic) => committedOffsets(options.settings, this.groupId, topic),
    }, (pipeline, w, ended) => options.store.setWatermark(pipeline, w, ended));
    this.positions = new SinkPositions(options.store, this.groupId, [this.names.results, this.names.late, this.names.deadLetter], {
      owned: (topic) => this.owned.get(topic) ?? [], next: (topic, p) => this.watch.next(topic, p),
      commit: (topic, p, next) => this.consumer?.commit(topic, p, next) ?? Promise.resolve(),
    });
  }

  private get groupId(): string {
    return this.o.groupId ?? groupName('concord-store-sink');
  }

  get stats(): KafkaStoreSinkStats {
    return { ...this.sink.written, skipped: this.skipped, otherVersion: this.otherVersion, otherVersionLate: this.otherVersionLate };
  }

  /** Consumes until `stop` (or until idle with `stopWhenIdleMs`); the store stays open (the caller's). */
  async run(): Promise<KafkaStoreSinkStats> {
    const stopped = new Promise<void>((resolve, reject) => {
      this.stopRun = () => {
        this.outage.stop();
        resolve();
      };
      this.failRun = reject;
    });
    // The store's offsets are where the group resumes (sink-resume.ts), the dead letters' too (its quarantine verdicts).
    const resume = await resumeFromStore(this.o.settings, this.o.store, this.groupId, [this.names.results, this.names.late, this.names.deadLetter], this.o.log);
    this.floors = resume.floors;
    this.positions.started(resume.stored);
    // Written with the first batch: a backup taken after it knows where every partition started.
    for (const [topic, partitions] of resume.starting?.next ?? []) for (const [p, next] of partitions) this.sink.readTo(this.groupId, topic, p, next);
    // Every report still on the (compacted) watermarks topic: one read before the group's committed
    // offsets may have passed reports whose W a stopped sink had not written yet.
    for (const [key, value] of await readLatestByKey(this.o.settings, this.names.watermarks)) this.watermarks.accept(value, `${this.names.watermarks} key ${key}`);
    const consumer = this.consumer = await BatchConsumer.start(this.o.settings, {
      groupId: this.groupId,
      topics: [this.names.results, this.names.late, this.names.watermarks, this.names.deadLetter],
      onPosition: (p) => this.watch.position(p.topic, p.partition, p.next),
      onAssignment: (assigned) => {
        const owned = new Map<string, number[]>();
        for (const a of assigned) owned.set(a.topic, [...(owned.get(a.topic) ?? []), a.partition]);
        // A partition handed away may come back at an earlier offset: its fetch position no longer holds.
        for (const [topic, partitions] of this.owned) for (const p of partitions) if (!owned.get(topic)?.includes(p)) this.watch.forget(topic, p);
        this.owned = owned;
        this.watch.assigned();
      },
      onError: (error) => this.failRun(error),
      // Concord's own records, read whole: a late event carries its whole event, itself up to the input limit.
      maxRecordBytes: Number.POSITIVE_INFINITY,
      // Offsets commit after this returns: the rows are in the store by then.
      onBatch: async (batch) => {
        try {
          return await this.write(batch);
        } catch (error) {
          this.positions.unwritten();
          this.failRun(error);
          return false;
        }
      },
    });
    const lag = this.o.metrics && new ConsumerLagReport(this.o.metrics, this.o.settings, () => this.owned, (topic, p) => this.watch.next(topic, p));
    const quiet = this.o.stopWhenIdleMs;
    // A line when the numbers moved, not every second while idle.
    const progress = new ProgressLine((line) => this.o.log?.(line));
    const timer = setInterval(() => {
      const { results, late, conflicting } = this.sink.written;
      const others = this.otherVersion + this.otherVersionLate;
      const line = `sink: ${results} results, ${late} late events written${conflicting > 0 ? `; ${conflicting} contradict rows another run stored (kept out, cells marked dirty: backfill them)` : ''}` +
        // Said while it runs: a sink on another deployment's topics (a wrong CONCORD_TOPIC_PREFIX) writes nothing, and said so only at its end.
        (others > 0 ? `; skipped ${others} rows of another definition version of its pipelines` : '');
      progress.update(line);
      // A store that does not answer: the W is written on a later tick (the outage is said by the batch writes).
      if (!this.outage.down) this.settleWatermarks().catch((error: unknown) => { if (!isRetriable(error)) this.failRun(error); });
      if (!this.outage.down) this.positions.record().catch((error: unknown) => { if (!isRetriable(error)) this.failRun(error); });
      if (this.watch.quiet()) {
        this.readToEnd().then((done) => { if (done) this.stopRun(); }, () => undefined);
      }
    }, Math.min(1_000, quiet ?? 5_000));
    let positionsRecorded: Promise<void> = Promise.resolve();
    try {
      await stopped;
      // A clean stop, before leaving the group: only a member commits the group's offsets with the store's.
      positionsRecorded = this.positions.record(true);
      await positionsRecorded.catch(() => undefined);
    } finally {
      clearInterval(timer);
      lag?.stop();
      await consumer.stop().catch(() => undefined);
      this.consumer = undefined;
    }
    try {
      // A W whose rows are written by now goes in too (stopped by a signal: the rest waits for the next run).
      await this.settleWatermarks();
      await positionsRecorded;
      // Every batch flushed before its offsets committed: nothing is buffered here.
      await this.sayMixedDays();
    } catch (error) {
      // Stopped while the store was down: what was not written was not committed either; the next run reads it again.
      if (!isRetriable(error)) throw error;
      this.o.log?.(`sink: stopped while the store does not answer (${messageOf(error)}): the rows and watermarks not written are read again by the next run`);
    }
    return this.stats;
  }

  /**
   * Says each day this sink wrote whose stream rows now come from two definitions of a pipeline: another
   * deployment's rows in this store (a sink given the wrong store or CONCORD_STORE_SCHEMA) or a changed
   * definition. Its contradicted cells alone ("contradict rows another run stored") did not say that.
   */
  private async sayMixedDays(): Promise<void> {
    this.mixedCheckedAt = Date.now();
    for (const [pipeline, days] of await this.mixed.check(this.o.store)) {
      this.o.log?.(mixedDaysMessage(pipeline, this.versions.get(pipeline) ?? '?', days, 'this sink\'s',
        'or, if the other rows are another deployment\'s, give each deployment its own store (--store, env CONCORD_STORE_SCHEMA) and reset this one'));
    }
  }

  stop(): void {
    this.stopRun?.();
  }

  /** Writes the watermarks whose rows are in the store (SinkWatermarks), one call at a time. */
  private settleWatermarks(): Promise<void> {
    this.settling ??= this.watermarks.settle().finally(() => { this.settling = undefined; });
    return this.settling;
  }

  /** Writes a batch; false (its offsets stay uncommitted) when the sink was stopped while the store did not answer. */
  private async write(batch: InBatch): Promise<boolean> {
    if (batch.topic === this.names.watermarks) {
      for (const r of batch.records) {
        const where = `${batch.topic}:${batch.partition}@${r.offset}`;
        if (r.problem) throw new ConcordError(`${where}: a record is unreadable: ${r.problem.reason}`);
        this.watermarks.accept(r.value, where);
      }
      if (batch.records.length > 0) this.watch.heard();
      return true;
    }
    const floor = this.floors.get(batch.topic)?.get(batch.partition) ?? 0;
    for (const r of batch.records) {
      if (r.offset < floor) continue;
      const where = `${batch.topic}:${batch.partition}@${r.offset}`;
      let row: Record<string, unknown>;
      if (r.problem) throw new ConcordError(`${where}: a record is unreadable: ${r.problem.reason}`);
      try {
        row = JSON.parse(r.value) as Record<string, unknown>;
      } catch (error) {
        throw new ConcordError(`${where}: a record is not JSON`, { cause: error });
      }
      if (batch.topic === this.names.deadLetter) {
        const held = quarantineRecordOfJson(row), refused = held ? null : rejectionRecordOfJson(row);
        if (held && this.schemas.has(held.schema)) this.sink.quarantine(held);
        if (refused && this.schemas.has(refused.schema)) this.sink.reject(refused);
        continue;
      }
      const def = this.defs.get(String(row.pipeline));
      if (!def) {
        this.skipped++;
        continue;
      }
      const results = batch.topic === this.names.results;
      if (ofOtherVersion(row, this.versions.get(def.name))) {
        if (results) this.otherVersion++;
        else this.otherVersionLate++;
        continue;
      }
      if (results) {
        const result = parseResultLine(def, row, r.offset);
        if (result) {
          this.sink.result(result);
          this.mixed.wrote(result);
        }
      } else {
        const late = parseLateRow(def, row, where);
        if (late) this.sink.lateEvent(late.record, late.evaluatedOnArrival, late.decidedAfterWakeup);
      }
    }
    // What the group commits after this write (consumer.ts: the last record's offset + 1), in its transaction.
    const last = batch.records.at(-1);
    if (last !== undefined) this.sink.readTo(this.groupId, batch.topic, batch.partition, last.offset + 1);
    const before = this.o.metrics ? { ...this.sink.written } : undefined;
    const started = performance.now();
    // The batch's rows stay buffered while the store does not answer; its offsets commit only once they are written.
    if (!(await this.outage.retry(() => this.sink.flush()))) {
      this.positions.unwritten();
      return false;
    }
    if (last !== undefined) this.positions.wrote(batch.topic, batch.partition, last.offset + 1);
    if (before) {
      const after = this.sink.written;
      this.o.metrics!.storeWrite({ results: after.results - before.results, late: after.late - before.late }, (performance.now() - started) / 1000);
    }
    await this.sink.checkpointIfDue(); // after the write's commit, not inside it
    if (Date.now() - this.mixedCheckedAt >= MIXED_CHECK_MS) await this.sayMixedDays().catch((error: unknown) => { if (!isRetriable(error)) throw error; });
    if (batch.records.length > 0) this.watch.heard();
    return true;
  }

  /**
   * Every topic read to its end (its partitions here by this sink, the others by its group: Concord's
   * topics are written in transactions, CaughtUpWatch.finished), and every watermark reported on it written.
   */
  private async readToEnd(): Promise<boolean> {
    const group = { groupId: this.groupId, transactional: true, ...(this.o.log ? { log: this.o.log } : {}) };
    for (const topic of [this.names.results, this.names.late, this.names.watermarks, this.names.deadLetter]) if (!(await this.watch.finished(topic, this.owned.get(topic) ?? [], group))) return false;
    await this.settleWatermarks();
    await this.settleWatermarks(); // the one in flight may have started before the last reports
    return this.watermarks.settled;
  }
}
