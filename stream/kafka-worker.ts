import type { PipelineDefinition } from '../pipeline/definition.ts';
import { ConcordError, DefinitionError } from '../pipeline/errors.ts';
import { TimeGuard, timeGuardSettings } from '../pipeline/time-guard.ts';
import { admit } from '../schemas/decode.ts';
import {
  CaughtUpWatch,
  TransactionalProducer,
  endOffsets,
  ensureTopics,
  readLatestByKey,
  type ConsumedOffsets,
  type GroupFencedError,
  type GroupGeneration,
  type InBatch,
  type KafkaSettings,
  type OutRecord,
} from './kafka/client.ts';
import { concordTopics, groupName, inputTopic, needsMergeStage, topicNames } from './kafka/topics.ts';
import { MemberLoop } from './member-loop.ts';
import { MemberConsumer } from './member-consumer.ts';
import { WorkerOutputs } from './worker-outputs.ts';
import { WorkerPartitions } from './worker-partitions.ts';
import { WorkerTransactions, type Committed } from './worker-transactions.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';

/** No record for this long while assigned partitions have unread ones: the consumer is replaced (env CONCORD_KAFKA_STALL_MS). */
function stalledAfterMs(): number {
  return Number(process.env.CONCORD_KAFKA_STALL_MS ?? 30_000);
}

export interface KafkaWorkerOptions {
  /** Pipelines over one input schema (one consumer group per schema and pipeline set). */
  pipelines: readonly PipelineDefinition[];
  settings: KafkaSettings;
  /** Consumer group; default `concord-<schema>`. */
  groupId?: string;
  /** Stable per worker: the transactional id fences a previous incarnation on restart. */
  workerId: string;
  /** A partition that delivers nothing for this long stops holding the watermark (default 30 s). */
  idleTimeoutMs?: number;
  /**
   * Watermark alignment: stop fetching a partition whose own W runs more than this ahead of the slowest
   * partition still reading (stream/watermark-alignment.ts). Undefined: no alignment.
   */
  maxWatermarkDriftMs?: number;
  /** Exit once every assigned partition is caught up and quiet for this long; then drain (W = +inf). */
  stopWhenIdleMs?: number;
  partitions?: number;
  log?: (line: string) => void;
  /** Metrics of the process (serve/process-metrics.ts); none: nothing is measured. */
  metrics?: ProcessMetrics;
}

export interface WorkerStats {
  records: number;
  events: number;
  deadLetters: number;
  late: number;
  results: number;
  transactions: number;
  /** Transactions the broker refused because the group had moved on (KIP-447 fencing). */
  fenced: number;
  /** Bytes of checkpoint records written (only partitions that changed since their last record). */
  checkpointBytes: number;
  /** Time spent committing transactions (produce, offsets, commit), seconds. */
  commitSeconds: number;
  /** Times watermark alignment paused a partition. */
  alignmentPauses: number;
  /** The largest event-time spread of the owned partitions seen after a step, ms (what alignment bounds). */
  maxWatermarkSpreadMs: number;
}

/**
 * A streaming worker over Kafka. Per input partition it keeps one operator per pipeline; the
 * watermark of each pipeline is the minimum over the assigned, non-idle partitions (each partition's
 * own W = max ts - B - 1). Every fetch commits, in one Kafka transaction (WorkerOutputs,
 * WorkerTransactions): the results (compacted upserts keyed by pipeline|window|key), late events, dead
 * letters, checkpoints of the partitions that changed (state and own watermark), and the consumer
 * offsets; the next fetch is processed while it commits. A killed worker restarts from the last
 * committed transaction: nothing lost, nothing doubled.
 */
export class KafkaWorker {
  private readonly o: KafkaWorkerOptions;
  private readonly schema: string;
  private readonly topic: string;
  private readonly groupId: string;
  private readonly names = topicNames();
  /** The owned input partitions: their operators, checkpoints and the firing W over them. */
  private readonly partitions: WorkerPartitions;
  private readonly outputs: WorkerOutputs;
  /** Judges event times against the record timestamps (pipeline/time-guard.ts), the archiver's reference too. */
  private timeGuard?: TimeGuard;
  private transactions!: WorkerTransactions;
  private consumer: MemberConsumer | undefined;
  private readonly loop = new MemberLoop();
  /** Per partition, the next offset after the batches processed since the last commit, and the generation they were read under. */
  private readonly consumed = new Map<number, number>();
  private consumedUnder: GroupGeneration | undefined;
  /** The group membership of the assignment in use: steps that read nothing commit their offsets under it (KIP-447). */
  private generation: GroupGeneration | undefined;
  private timer: NodeJS.Timeout | undefined;
  /**
   * Caught up and quiet, from the batches processed (transaction markers included: InBatch.next), not the
   * fetch position, which runs ahead of them: `next` may stay one short of the end (a commit marker).
   */
  private readonly watch: CaughtUpWatch;
  /** When the stall check last asked for end offsets (at most once per stall period). */
  private stallCheckedAt = 0;
  readonly stats: WorkerStats = { records: 0, events: 0, deadLetters: 0, late: 0, results: 0, transactions: 0, fenced: 0, checkpointBytes: 0, commitSeconds: 0, alignmentPauses: 0, maxWatermarkSpreadMs: 0 };

  constructor(options: KafkaWorkerOptions) {
    this.o = options;
    const first = options.pipelines[0];
    if (!first) throw new DefinitionError('no pipeline to run');
    const mixed = options.pipelines.find((p) => p.schema.name !== first.schema.name);
    if (mixed) throw new DefinitionError(`one worker reads one input: ${mixed.name} reads ${mixed.schema.name}, not ${first.schema.name}`);
    this.schema = first.schema.name;
    this.topic = inputTopic(this.schema);
    this.groupId = options.groupId ?? groupName(`concord-${this.schema}`);
    // Pipelines whose keys span partitions go through the merge stage: windowed ones emit per-partition
    // partials, never totals; rules forward the events each partition accepted (RuleForwarder).
    const merged = options.pipelines.map((p) => needsMergeStage(p));
    this.partitions = new WorkerPartitions({ pipelines: options.pipelines, merged, groupId: this.groupId, topic: this.topic, names: this.names });
    this.watch = new CaughtUpWatch(options.settings, options.stopWhenIdleMs);
    this.outputs = new WorkerOutputs(this.schema, options.pipelines, merged, this.names, this.stats, (p, i) => this.partitions.get(p)?.operators[i], options.metrics);
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  /** Joins the group and processes until stopped (or until idle with `stopWhenIdleMs`). */
  async run(): Promise<WorkerStats> {
    await ensureTopics(this.o.settings, concordTopics([this.o.pipelines[0]!.schema], this.o.partitions));
    const producer = await TransactionalProducer.connect(this.o.settings, `concord-${this.groupId}-${this.o.workerId}`);
    this.transactions = new WorkerTransactions(producer, {
      refused: (error) => this.fenced(error),
      failed: (error) => this.loop.fail(error),
      committed: (c) => this.committed(c),
    });
    this.consumer = new MemberConsumer(this.o.settings, this.loop, {
      groupId: this.groupId,
      topic: this.topic,
      instanceId: `concord-${this.groupId}-${this.o.workerId}`,
      assigned: (partitions, generation, continued) => {
        this.generation = generation;
        return this.assign(partitions, continued);
      },
      batch: (batch) => this.process(batch),
      markerBatches: true,
    });
    await this.consumer.start();
    const metrics = this.o.metrics;
    let running = true;
    metrics?.beforeScrape(async () => {
      if (!running) return;
      const ends = await endOffsets(this.o.settings, this.topic);
      // The watch's position: fed at restore and after every batch, markers included, never behind `next`.
      for (const [p, state] of this.partitions.entries()) metrics.consumerLag(this.topic, p, Math.max(0, (ends.get(p) ?? 0) - (this.watch.next(this.topic, p) ?? state.next)));
    });
    this.timer = setInterval(() => {
      void this.loop.exclusive(() => this.tick()).catch((error) => this.loop.fail(error));
    }, 500);
    try {
      await this.loop.wait();
    } finally {
      running = false;
      clearInterval(this.timer);
      await this.consumer?.stop();
      await this.transactions.close();
    }
    return this.stats;
  }

  /** Stops after the current step, without draining (the next run continues from the checkpoint). */
  stop(): void {
    this.loop.stop();
  }

  /**
   * The broker refused this worker's transaction: the group gave its partitions to another member while
   * it stalled, or a rebalance moved the generation on. What it built since the last committed checkpoint
   * is dropped (MemberConsumer.afterRefusal decides whether the consumer is replaced); the next assignment
   * restores whatever it owns then from the checkpoints (another member's, if it moved on).
   */
  private fenced(error: GroupFencedError): void {
    this.log(`transaction refused and aborted: ${error.message}; dropping partitions [${[...this.partitions.keys()].join(', ')}] until the group assigns again`);
    this.stats.fenced++;
    this.dropAll();
    this.consumer!.afterRefusal(error);
  }

  /**
   * Drops every partition's state (all of it is in the checkpoints, or in a transaction that was refused)
   * and, after the step in flight, replaces the consumer (MemberConsumer): the next assignment restores
   * from the checkpoints at the committed offsets. The old consumer's batches queued meanwhile are ignored.
   */
  private rejoin(): void {
    this.dropAll();
    this.consumer!.replaceAfterStep();
  }

  /** Forgets every partition's state and whatever was pending for them (all of it is in the checkpoints, or refused). */
  private dropAll(): void {
    for (const p of [...this.partitions.keys()]) this.forget(p);
    this.consumed.clear();
    this.outputs.clear();
    this.generation = undefined;
  }

  /** A partition handed away or dropped: its state and its position. */
  private forget(p: number): void {
    this.partitions.forget(p);
    this.watch.forget(this.topic, p);
  }

  /**
   * A new assignment: drop partitions handed away (all of them unless the membership `continued`: another
   * member may have moved them on meanwhile), restore the new ones from their checkpoints.
   */
  private async assign(assigned: number[], continued: boolean): Promise<void> {
    // A refusal of the transaction in flight drops every partition: all of them are restored below, and
    // from here on this member commits again (until an assignment, every step after a refusal is void).
    await this.transactions.settled();
    this.transactions.resume();
    const keep = new Set(continued ? assigned : []);
    if (this.consumed.size > 0) {
      // The group rebalanced between the batches of one fetch: what they produced is dropped with their
      // partitions' state (everything pending comes from them), restored below from the checkpoints and
      // read again.
      for (const p of this.consumed.keys()) keep.delete(p);
      this.consumed.clear();
      this.outputs.clear();
    }
    for (const p of [...this.partitions.keys()]) if (!keep.has(p)) this.forget(p);
    const fresh = assigned.filter((p) => !this.partitions.has(p));
    if (fresh.length === 0) return;
    const stored = await readLatestByKey(this.o.settings, this.names.checkpoints);
    const restoredCount = this.partitions.restore(fresh, stored, this.outputs);
    for (const p of fresh) this.watch.position(this.topic, p, this.partitions.get(p)!.next);
    this.log(`assigned ${this.topic} partitions [${assigned.join(', ')}]; restored ${restoredCount} from checkpoints`);
    // Pending decisions of restored state happen before any new event is judged.
    await this.step();
  }

  private async process(batch: InBatch): Promise<boolean> {
    // Dropped after a refused commit: nothing is held until the next assignment restores (and reads again).
    if (this.loop.stopping || !this.generation) return false;
    const state = this.partitions.get(batch.partition);
    if (!state || batch.topic !== this.topic) {
      throw new ConcordError(`received ${batch.topic}:${batch.partition}, which is not assigned to this worker`);
    }
    const source = this.partitions.source(batch.partition);
    const eventsBefore = this.stats.events, deadBefore = this.stats.deadLetters;
    for (const record of batch.records) {
      this.stats.records++;
      if (record.offset < state.next) continue; // already in the restored state
      const position = { source, offset: record.offset };
      const schema = this.o.pipelines[0]!.schema;
      // Consumer-side problems (tombstones, empty, not UTF-8, too long) arrive with the record; a blank value is one.
      const decoded = admit(schema, this.timeGuard ??= new TimeGuard(timeGuardSettings(schema)), record.value, record.problem, record.timestamp, position)
        ?? { ok: false as const, deadLetter: { ...position, field: null, reason: 'empty record: no event', raw: record.value }, quarantined: false };
      if (!decoded.ok) {
        this.stats.deadLetters++;
        this.outputs.deadLetter(decoded.deadLetter, batch.partition);
        continue;
      }
      this.stats.events++;
      for (const op of state.operators) op.process(decoded.event, position);
    }
    const metrics = this.o.metrics;
    if (metrics) {
      if (this.stats.events > eventsBefore) for (const def of this.o.pipelines) metrics.eventsIn(def.name, this.stats.events - eventsBefore);
      if (this.stats.deadLetters > deadBefore) metrics.deadLetters(this.schema, this.stats.deadLetters - deadBefore);
    }
    const last = batch.records.at(-1);
    this.watch.position(this.topic, batch.partition, Math.max(batch.next ?? 0, last ? last.offset + 1 : 0));
    if (last) {
      state.next = Math.max(state.next, last.offset + 1);
      state.lastDataAt = Date.now();
      this.watch.heard(state.lastDataAt);
      state.dirty = true;
    }
    if (this.stats.events > eventsBefore) this.partitions.advance(batch.partition);
    if (last) {
      this.consumed.set(batch.partition, state.next);
      this.consumedUnder = batch.generation;
    }
    // The other partitions' batches of the same fetch follow at once: one transaction for all of them,
    // committed while the next fetch is processed.
    if (!batch.more && this.consumed.size > 0) await this.step({ overlap: true });
    return true;
  }

  /**
   * End of a step: every partition operator sees the firing W (the minimum over the non-idle
   * partitions: windows of other partitions fire too; it never decides lateness), partial aggregates
   * are merged, and everything commits in one transaction with the checkpoints of the partitions that
   * changed (and the consumed offset, when the step consumed records).
   */
  private async step(o: { overlap?: boolean } = {}): Promise<void> {
    const started = performance.now();
    this.partitions.fire();
    this.align();
    this.partitions.reportProgress(this.outputs);
    const { records, emitted } = this.outputs.take();
    const metrics = this.o.metrics;
    const cpStarted = performance.now();
    const checkpoints = this.partitions.checkpointRecords();
    const bytes = checkpoints.reduce((n, r) => n + Buffer.byteLength(r.value ?? ''), 0);
    this.stats.checkpointBytes += bytes;
    metrics?.checkpoint(bytes, (performance.now() - cpStarted) / 1000);
    records.push(...checkpoints);
    const consumed = this.consumedOffsets();
    this.consumed.clear();
    // After the transaction in flight (void if that one is refused: this state is dropped with it).
    const committing = this.transactions.begin(records, consumed ?? this.ownership(), started, emitted);
    if (!o.overlap) await committing;
  }

  /**
   * Watermark alignment after the step's events: partitions too far ahead of the slowest one still
   * reading are left out of the next fetches (a partition read to the end the broker last reported holds
   * nothing back). The spread is measured with or without alignment.
   */
  private align(): void {
    const consumer = this.consumer;
    if (!consumer) return;
    const drift = this.o.maxWatermarkDriftMs;
    const unread = (p: number) => {
      const end = consumer.end(p);
      return end === undefined || (this.watch.next(this.topic, p) ?? this.partitions.get(p)?.next ?? 0) < end;
    };
    const { paused, newlyPaused, spread } = this.partitions.align(drift, unread);
    if (spread > this.stats.maxWatermarkSpreadMs) this.stats.maxWatermarkSpreadMs = spread;
    this.o.metrics?.alignment(paused.length, spread);
    if (drift === undefined) return;
    this.stats.alignmentPauses += newlyPaused;
    consumer.pause(paused);
  }

  /** The offsets of the batches processed since the last commit, under the generation they were read with. */
  private consumedOffsets(): ConsumedOffsets | null {
    if (this.consumed.size === 0 || !this.consumedUnder) return null;
    return { generation: this.consumedUnder, topic: this.topic, partitions: [...this.consumed].map(([partition, offset]) => ({ partition, offset })) };
  }

  /**
   * The offsets of a transaction that read nothing (assignment, idle tick, drain): the current position
   * of one owned partition again, under the generation of the assignment. The broker checks the
   * generation only on an offset commit, so without one a stalled worker whose partitions went to
   * another member could still commit its results and checkpoints.
   */
  private ownership(): ConsumedOffsets | null {
    const first = this.partitions.first();
    if (!first || !this.generation) return null;
    return { generation: this.generation, topic: this.topic, partitions: [{ partition: first[0], offset: first[1].next }] };
  }

  /** A transaction committed: its cost, the emit delay of its window results, and the watermarks (with metrics). */
  private committed(c: Committed): void {
    this.stats.transactions++;
    this.stats.commitSeconds += c.seconds;
    const metrics = this.o.metrics;
    if (!metrics) return;
    metrics.transactionCommit(c.seconds);
    for (const pipeline of c.emitted) metrics.windowEmitDelay(pipeline, (c.at - c.started) / 1000);
    this.o.pipelines.forEach((def, i) => {
      metrics.watermark(def.name, 'all', this.partitions.trackers[i]!.current);
      for (const [p, state] of this.partitions.entries()) metrics.watermark(def.name, String(p), state.operators[i]!.watermark);
    });
  }

  /** Every 500 ms: mark quiet partitions idle (W may move), and stop when idle if asked. */
  private async tick(): Promise<void> {
    if (this.loop.stopping || !(await this.transactions.settled())) return;
    const now = Date.now();
    if (this.partitions.markIdle(now, this.o.idleTimeoutMs ?? 30_000)) await this.step();
    // Seen a few times in ~20 loaded test runs: the client stopped fetching one partition that still had
    // records (all others read to their end). Every step commits, so a fresh consumer loses nothing.
    const stall = stalledAfterMs();
    if (this.watch.silentMs(now) >= stall && now - this.stallCheckedAt >= stall && this.partitions.size > 0 && ((this.stallCheckedAt = now), !(await this.caughtUp()))) {
      this.log(`no records for ${Math.round(this.watch.silentMs(now) / 1000)} s although partitions have unread records: rejoining with a fresh consumer`);
      this.watch.heard(now);
      this.rejoin();
      return;
    }
    if (this.watch.quiet(now) && this.partitions.size > 0 && (await this.caughtUp())) {
      // A refused drain (fenced meanwhile) is not the end: the next assignment restores and drains again.
      if (await this.drain()) this.loop.stop();
    }
  }

  /** Every assigned partition processed to the end of the input topic. */
  private caughtUp(): Promise<boolean> {
    return this.watch.caughtUp(this.topic, this.partitions.keys());
  }

  /** End of a bounded run: W = +infinity, every open window fires once, results commit (false: refused). */
  private async drain(): Promise<boolean> {
    // Batches processed but not committed yet go first, with their checkpoints: the drain writes none,
    // so its offsets must not run ahead of them.
    if (this.consumed.size > 0) await this.step();
    if (!(await this.transactions.settled())) return false;
    const started = performance.now();
    this.partitions.finish();
    this.partitions.reportProgress(this.outputs);
    // The drained state is not checkpointed: a later run continues the stream from the last checkpoint.
    const { records, emitted } = this.outputs.take();
    if (!(await this.transactions.begin(records, this.ownership(), started, emitted))) return false;
    this.log(`drained: every open window fired (W = +infinity)`);
    return true;
  }
}
