import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import type { OutRecord } from './kafka/client.ts';
import type { topicNames } from './kafka/topics.ts';
import { progressMessage } from './merge-messages.ts';
import { createOperator, type StreamOperator } from './operators/index.ts';
import { WindowedOperator } from './operators/windowed.ts';
import { partitionCheckpointRecords, partitionHead, readPartitionCheckpoints, type PartitionCheckpoint } from './partition-checkpoint.ts';
import { RuleForwarder } from './rule-merge-forwarder.ts';
import type { PartitionCounts } from './step-counts.ts';
import { partitionReport, PublishedWatermarks, type DrainedAt } from './watermark-reports.ts';
import { partitionsAhead, watermarkSpread, type AlignedPartition } from './watermark-alignment.ts';
import { wholePartitionCheckpointRecords, wholeRewrite, type UpgradeFrom } from './upgrade-from.ts';
import type { WorkerOutputs } from './worker-outputs.ts';

/**
 * Per partition: one operator per pipeline (keyed state lives with its partition), each with its own
 * watermark over this partition alone (it judges the partition's events), and progress.
 */
export interface PartitionState {
  operators: StreamOperator[];
  /** Next offset to read: the offset after the last record processed (committed with the step). */
  next: number;
  lastDataAt: number;
  /** Changed since its last checkpoint record (incremental checkpoints). */
  dirty: boolean;
  /** Left out of fetches by watermark alignment: quiet because it is not read, never idle for it. */
  paused: boolean;
  /** With `upgradeFrom`: the part records its whole checkpoint deletes (stream/upgrade-from.ts). */
  leftParts?: string[];
  /**
   * What its steps counted from the group's first read of it on (restored, then counted as its records are
   * judged): written with its checkpoint, so it holds the committed steps' counts (PartitionCounts).
   */
  counts: PartitionCounts;
}

/** A partition's watermark as a source of the firing W over partitions. */
interface WatermarkSource {
  source: string;
  idle: boolean;
  watermark: number;
}

export interface WorkerPartitionsOptions {
  pipelines: readonly PipelineDefinition[];
  /** Per pipeline: merged across partitions (needsMergeStage). */
  merged: readonly boolean[];
  groupId: string;
  /** The input topic. */
  topic: string;
  names: ReturnType<typeof topicNames>;
  /** Checkpoints that release reads: every operator whole (stream/upgrade-from.ts). */
  upgradeFrom?: UpgradeFrom;
}

/**
 * The input partitions a stream worker owns: each one's operators, restored from its checkpoints, and
 * per pipeline the firing W over them (a WatermarkTracker: the minimum of the non-idle partitions' own
 * W). A partition's own W decides lateness of its events, the same in every run; the firing W only
 * fires windows and frees state (docs/semantics.md). It also writes the partitions' checkpoint records
 * and what the merge stage is told of them; the worker (kafka-worker.ts) owns the consumer and the
 * transactions.
 */
export class WorkerPartitions {
  private readonly o: WorkerPartitionsOptions;
  private readonly states = new Map<number, PartitionState>();
  /** Per pipeline, the firing W over the partitions. */
  readonly trackers: WatermarkTracker[];
  /** What was last reported to the merge stage per `pipeline index|partition` (W, the partition's W, idle). */
  private readonly reported = new Map<string, string>();
  private readonly versions: readonly string[];
  /** The input topic's id, once the worker has read it: kept in the checkpoints, checked on restore. */
  topicId: string | undefined;
  /** The input topic's partition count, once the worker has read it (the sink waits for a report of each). */
  topicPartitions = 0;
  /** The firing W last published to the watermarks topic per `pipeline|partition`. */
  private readonly published = new PublishedWatermarks();

  constructor(options: WorkerPartitionsOptions) {
    this.o = options;
    this.trackers = options.pipelines.map((p) => new WatermarkTracker(p.watermark.maxOutOfOrderness));
    this.versions = options.pipelines.map((p) => definitionVersion(p));
  }

  get size(): number {
    return this.states.size;
  }

  has(partition: number): boolean {
    return this.states.has(partition);
  }

  get(partition: number): PartitionState | undefined {
    return this.states.get(partition);
  }

  keys(): IterableIterator<number> {
    return this.states.keys();
  }

  entries(): IterableIterator<[number, PartitionState]> {
    return this.states.entries();
  }

  /** The owned partition with the lowest number (a transaction that read nothing commits its offset again). */
  first(): [number, PartitionState] | undefined {
    return [...this.states].sort(([a], [b]) => a - b)[0];
  }

  /** The watermark source name of a partition (also its events' position source). */
  source(partition: number): string {
    return `${this.o.topic}:${partition}`;
  }

  /** The prefix of the partition's checkpoint records. */
  private checkpointHead(partition: number): string {
    return partitionHead(this.o.groupId, this.o.topic, partition);
  }

  /**
   * Takes on `fresh` partitions from the checkpoints `stored` (the latest value per key of the
   * checkpoints topic); returns how many had one. The firing W starts from their own W.
   */
  restore(fresh: readonly number[], stored: ReadonlyMap<string, string>, outputs: WorkerOutputs): number {
    let restored = 0;
    const sources = this.o.pipelines.map(() => [] as WatermarkSource[]);
    for (const p of fresh) {
      const { checkpoints, parts, next, counts } = readPartitionCheckpoints(stored, this.checkpointHead(p), this.o.pipelines, this.source(p), this.topicId);
      if (checkpoints.some((cp) => cp)) restored++;
      const operators = this.operators(p, checkpoints, parts, outputs, (i, source) => sources[i]!.push(source));
      this.states.set(p, { operators, next, counts, lastDataAt: Date.now(), dirty: false, paused: false, ...(this.o.upgradeFrom ? wholeRewrite(stored, this.checkpointHead(p), this.o.pipelines, checkpoints) : {}) });
    }
    this.trackers.forEach((t, i) => t.addSources(sources[i]!));
    return restored;
  }

  /**
   * One operator per pipeline for partition `p`, restored from its checkpoints where it has them, each
   * carrying the partition's own W (restored, never raised to another partition's). A rule merged across
   * partitions forwards the events its partition accepted (RuleForwarder).
   */
  private operators(
    p: number, checkpoints: readonly (PartitionCheckpoint | undefined)[], parts: readonly string[][], outputs: WorkerOutputs, source: (pipeline: number, s: WatermarkSource) => void,
  ): StreamOperator[] {
    return this.o.pipelines.map((def, i) => {
      const cp = checkpoints[i];
      source(i, { source: this.source(p), idle: cp?.idle ?? false, watermark: cp?.watermark ?? Number.NEGATIVE_INFINITY });
      if (this.o.merged[i] && def.kind === 'rule') {
        const B = def.watermark.maxOutOfOrderness;
        const own = cp ? WatermarkTracker.restore(B, cp.operator.watermark) : new WatermarkTracker(B);
        return new RuleForwarder(def, p, own, outputs.emitterFor(i, p), (m) => outputs.toMerge(def.name, m));
      }
      return createOperator(def, outputs.emitterFor(i, p), cp ? { restore: cp.operator, restoreParts: parts[i]! } : {});
    });
  }

  /** A partition handed away or dropped: its state, its watermark sources and what the merge stage was told of it. */
  forget(partition: number): void {
    this.states.delete(partition);
    this.trackers.forEach((t) => t.removeSource(this.source(partition)));
    this.o.pipelines.forEach((_, i) => this.reported.delete(`${i}|${partition}`));
    this.published.forget(this.o.pipelines.map((def) => `${def.name}|${partition}`));
  }

  /** The partition's own W (its operators judged its events by it) feeds the W windows fire by. */
  advance(partition: number): void {
    const state = this.states.get(partition);
    state?.operators.forEach((op, i) => this.trackers[i]!.advanceSource(this.source(partition), op.watermark));
  }

  /**
   * Every partition's operators see the firing W (windows of other partitions fire too; it never decides
   * lateness); a partition whose state changed is marked for its next checkpoint.
   */
  fire(): void {
    this.o.pipelines.forEach((_, i) => {
      const w = this.trackers[i]!.current;
      for (const state of this.states.values()) state.operators[i]!.onWatermark(w);
    });
    for (const state of this.states.values()) {
      // Every operator is asked (it resets its flag), not only until the first one that changed.
      if (state.operators.map((op) => op.takeChanged()).includes(true)) state.dirty = true;
    }
  }

  /** End of a bounded run: W = +infinity, every open window fires once. */
  finish(): void {
    for (const state of this.states.values()) for (const op of state.operators) op.finish();
    this.trackers.forEach((t) => t.finish());
  }

  /** Partitions with no data for `idleAfterMs` stop holding the firing W; true when a W moved. */
  markIdle(now: number, idleAfterMs: number): boolean {
    let moved = false;
    for (const [p, state] of this.states) {
      if (state.paused || now - state.lastDataAt < idleAfterMs) continue;
      for (const t of this.trackers) {
        if (t.isIdle(this.source(p))) continue;
        const before = t.current;
        t.setIdle(this.source(p), true);
        if (t.current !== before) moved = true;
      }
    }
    return moved;
  }

  /**
   * Watermark alignment (stream/watermark-alignment.ts): marks the partitions to leave out of fetches
   * (`maxDriftMs` undefined: none) and returns them, with how many were newly paused and the event-time
   * spread of the partitions. `unread(p)`: partition p has records left to read. A partition fetched
   * again starts its idle time afresh (it was quiet because it was not read).
   */
  align(maxDriftMs: number | undefined, unread: (partition: number) => boolean, now = Date.now()): { paused: number[]; newlyPaused: number; spread: number } {
    const view: AlignedPartition[] = [...this.states].map(([p, state]) => ({
      partition: p,
      watermarks: state.operators.map((op) => op.watermark),
      idle: this.trackers[0]!.isIdle(this.source(p)),
      unread: unread(p),
    }));
    const paused = new Set(maxDriftMs === undefined ? [] : partitionsAhead(view, maxDriftMs));
    let newlyPaused = 0;
    for (const [p, state] of this.states) {
      const pause = paused.has(p);
      if (pause && !state.paused) newlyPaused++;
      if (!pause && state.paused) state.lastDataAt = now;
      state.paused = pause;
    }
    return { paused: [...paused], newlyPaused, spread: watermarkSpread(view) };
  }

  /**
   * Tells the merge stage, per owned partition, the W its operators have fired windows up to, the
   * partition's own W and whether it is idle (after this step's partials or events, in the same
   * transaction and the same partials partition, so the merge never sees a W before the records it
   * covers). Only changes are sent. A drained worker reports its partitions at +infinity. The windowed
   * merge fires by the first and drops state by the own W; the rule merge rebuilds one operator's W from
   * the own W and idleness.
   */
  reportProgress(outputs: WorkerOutputs): void {
    this.o.pipelines.forEach((def, i) => {
      if (!this.o.merged[i]) return;
      const tracker = this.trackers[i]!;
      for (const [p, partition] of this.states) {
        const op = partition.operators[i]!;
        const w = op instanceof WindowedOperator ? op.firingWatermark : tracker.current;
        const source = { watermark: w === Number.POSITIVE_INFINITY ? w : op.watermark, idle: tracker.isIdle(this.source(p)) };
        const state = `${w}|${source.watermark}|${source.idle}`;
        if (this.reported.get(`${i}|${p}`) === state) continue;
        this.reported.set(`${i}|${p}`, state);
        outputs.toMerge(def.name, progressMessage(def.name, this.versions[i]!, p, w, source));
      }
    });
  }

  /**
   * Tells the watermarks topic (stream/watermark-reports.ts), per pipeline and owned partition, the firing
   * W its operators were just advanced to, in the step's transaction with what they emitted: only when it
   * moved, only finite. The store's watermark follows these, not the result rows alone.
   */
  reportWatermarks(outputs: WorkerOutputs): void {
    this.o.pipelines.forEach((def, i) => {
      const w = this.trackers[i]!.current;
      if (!Number.isFinite(w)) return;
      for (const p of this.states.keys()) {
        if (this.published.moved(`${def.name}|${p}`, w)) outputs.watermarkReport(this.report(i, p, w));
      }
    });
  }

  /**
   * At the drain, before W = +infinity: each owned partition as drained, at its own W (the last real W of
   * its input; docs/semantics.md, "The store's watermark"): never +infinity, which would seal every day.
   * `next(p)`: how far the partition's input was read; with the group, the other members of a bounded
   * run tell from it that the partition is done (stream/group-drain.ts).
   */
  reportDrained(outputs: WorkerOutputs, next: (partition: number) => number): void {
    this.o.pipelines.forEach((def, i) => {
      for (const [p, state] of this.states) {
        const own = state.operators[i]!.watermark;
        if (own === Number.POSITIVE_INFINITY) continue;
        this.published.forget([`${def.name}|${p}`]);
        outputs.watermarkReport(this.report(i, p, own, { group: this.o.groupId, next: next(p) }));
      }
    });
  }

  private report(i: number, partition: number, watermark: number, drainedAt?: DrainedAt): OutRecord {
    const pipeline = this.o.pipelines[i]!.name;
    return partitionReport(this.o.names.watermarks, {
      pipeline, version: this.versions[i]!, group: this.o.groupId, partition, partitions: this.topicPartitions, watermark, drained: drainedAt !== undefined, ...(drainedAt ? { drainedAt } : {}),
    });
  }

  /** Checkpoint records of the partitions that changed since their last ones (incremental). */
  checkpointRecords(): OutRecord[] {
    const records: OutRecord[] = [];
    for (const [p, state] of this.states) {
      if (!state.dirty) continue;
      state.dirty = false;
      const idle = this.trackers[0]!.isIdle(this.source(p));
      const head = this.checkpointHead(p);
      if (this.o.upgradeFrom === undefined) records.push(...partitionCheckpointRecords(this.o.names.checkpoints, head, this.o.pipelines, { ...state, idle }, this.topicId));
      else records.push(...wholePartitionCheckpointRecords(this.o.names.checkpoints, head, this.o.pipelines, { ...state, idle }, state.leftParts ?? [], this.topicId));
      state.leftParts = [];
    }
    return records;
  }
}
