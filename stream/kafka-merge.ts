import { partitionHolders, workerClientId } from './kafka/group-members.ts';
import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { cellKey, resultToJson } from '../schemas/results.ts';
import {
  CaughtUpWatch, GroupFencedError, TransactionalProducer, ensureTopics, readLatestByKey, topicPartitions,
  type InBatch, type KafkaSettings, type OutRecord,
} from './kafka/client.ts';
import { concordTopics, inputTopic, partialsTopic, topicNames } from './kafka/topics.ts';
import { decodeMergeMessage, progressWatermark } from './merge-messages.ts';
import { MemberLoop } from './member-loop.ts';
import { MemberConsumer } from './member-consumer.ts';
import { PartialsPurge, partialsPurgeIntervalMs } from './partials-purge.ts';
import { mergeCheckpointRecords, readMergeCheckpoint } from './merge-checkpoints.ts';
import { pipelineMerge, type PipelineMerge } from './pipeline-merge.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';
import type { UpgradeFrom } from './upgrade-from.ts';
import { mergeReport, PublishedWatermarks } from './watermark-reports.ts';

export interface KafkaMergeOptions {
  /** The pipelines this stage merges (all over one input schema; see needsMergeStage). */
  pipelines: readonly PipelineDefinition[];
  settings: KafkaSettings;
  /**
   * The stream workers' consumer group whose partials this stage merges; the stage's own group is
   * `<groupId>.merge` (all members of one deployment share both).
   */
  groupId: string;
  /** Stable per member: its transactional id fences a previous incarnation. */
  workerId: string;
  partitions?: number;
  log?: (line: string) => void;
  /** Metrics of the process (serve/process-metrics.ts): merged results out, the merge's watermark. */
  metrics?: ProcessMetrics;
  /** Write checkpoints that release reads (a rolling upgrade: stream/upgrade-from.ts). */
  upgradeFrom?: UpgradeFrom;
  /**
   * The process runs with `--stop-when-idle`: its client id says so, and a bounded sibling's merge member
   * waits for the partitions it holds instead of leaving them to it after a session timeout.
   */
  bounded?: boolean;
}

export interface MergeStats {
  /** Partials (windowed) and forwarded events (rules) merged. */
  partials: number;
  progress: number;
  results: number;
  duplicates: number;
  transactions: number;
  /** Bytes of merge checkpoints written (heads, and the windows or held events that changed: merge-checkpoints.ts). */
  checkpointBytes: number;
}

/**
 * The merge stage over Kafka: a consumer group on a stream group's partials topic combining the workers'
 * per-partition partials (PartialMergeStage) and running the rules whose keys span partitions over the
 * events the workers forward (RuleMergeStage). Each pipeline's records share one partials partition
 * (keyed by pipeline), so a member owns whole pipelines; every batch commits, in one transaction, the
 * merged results, that partition's merge state and its offset. Members scale out and fail over like
 * workers: the state follows the partition through the checkpoint.
 */
export class KafkaMergeWorker {
  private readonly o: KafkaMergeOptions;
  private readonly schema: string;
  private readonly topic: string;
  /** The stage's own consumer group (`<stream group>.merge`). */
  private readonly groupId: string;
  private readonly names = topicNames();
  private readonly defs: Map<string, PipelineDefinition>;
  private readonly versions: Map<string, string>;
  /** Per owned partials partition: next offset and one stage per pipeline seen there. */
  private readonly owned = new Map<number, { next: number; stages: Map<string, PipelineMerge> }>();
  /**
   * Per owned partials partition, read to here by the batches merged (transaction markers included:
   * InBatch.next), only to tell when a bounded run has merged everything.
   */
  private readonly watch: CaughtUpWatch;
  private inputPartitions = 0;
  private joined = false;
  private producer!: TransactionalProducer;
  private consumer: MemberConsumer | undefined;
  private readonly loop = new MemberLoop();
  /** Per pipeline, the W each input partition's worker last reported (only with metrics). */
  private readonly reportedW = new Map<string, Map<number, number>>();
  private readonly purge: PartialsPurge;
  /** The merged W last published per pipeline to the watermarks topic (for the store's watermark). */
  private readonly published = new PublishedWatermarks();
  readonly stats: MergeStats = { partials: 0, progress: 0, results: 0, duplicates: 0, transactions: 0, checkpointBytes: 0 };

  constructor(options: KafkaMergeOptions) {
    this.o = options;
    const first = options.pipelines[0];
    if (!first) throw new ConcordError('the merge stage needs at least one pipeline');
    this.schema = first.schema.name;
    this.topic = this.names.partials(this.schema, options.groupId);
    this.groupId = `${options.groupId}.merge`;
    this.defs = new Map(options.pipelines.map((p) => [p.name, p]));
    this.versions = new Map(options.pipelines.map((p) => [p.name, definitionVersion(p)]));
    this.watch = new CaughtUpWatch(options.settings);
    this.purge = new PartialsPurge(options.settings, this.topic, { intervalMs: partialsPurgeIntervalMs(), ...(options.log ? { log: options.log } : {}) });
  }

  /** Joins the merge group and merges until stopped. */
  async run(): Promise<MergeStats> {
    await ensureTopics(this.o.settings, [...concordTopics([this.o.pipelines[0]!.schema], this.o.partitions), partialsTopic(this.schema, this.o.groupId, this.o.partitions)]);
    this.inputPartitions = await topicPartitions(this.o.settings, inputTopic(this.schema));
    this.producer = await TransactionalProducer.connect(this.o.settings, `concord-${this.groupId}-${this.o.workerId}`);
    this.consumer = new MemberConsumer({ ...this.o.settings, clientId: workerClientId(this.o.workerId, this.o.bounded === true, 'merge') }, this.loop, {
      groupId: this.groupId,
      topic: this.topic,
      instanceId: `concord-${this.groupId}-${this.o.workerId}`,
      assigned: (partitions, _generation, continued) => {
        this.joined = true;
        this.watch.assigned();
        return this.assign(partitions, continued);
      },
      batch: (batch) => this.process(batch),
      // Transaction markers take offsets too: batches past them (no records) tell "merged to the end".
      markerBatches: true,
      // Workers' records, read whole: an exact distinct count's partial holds every value seen.
      maxRecordBytes: Number.POSITIVE_INFINITY,
    });
    await this.consumer.start();
    try {
      await this.loop.wait();
    } finally {
      await this.loop.settled(); // the batch in flight commits while this member is in the group
      await this.consumer?.stop();
      await this.purge.settled();
      await this.producer.close().catch(() => undefined);
    }
    return this.stats;
  }

  stop(): void {
    this.loop.stop();
  }

  /**
   * For bounded runs: stops once every partials partition has been merged to its end, by this member
   * (the batches it merged, markers included) or by the group (its committed offset reaches the last
   * transaction's marker), or is held by another live member (CaughtUpWatch.finished). Checking only this
   * member's partitions was not enough: a member that looked while a rebalance was handing it a partition
   * owned nothing, stopped, and the last worker's final partials were never merged (seen as a missing last
   * window in the two-worker test).
   */
  async stopWhenCaughtUp(pollMs = 200): Promise<void> {
    for (;;) {
      if (this.loop.stopping) return;
      await this.loop.settled();
      if (this.joined && (await this.watch.finished(this.topic, this.owned.keys(), {
        groupId: this.groupId, transactional: true, workerId: this.o.workerId, ...(this.o.log ? { log: this.o.log } : {}),
        holders: () => partitionHolders(this.o.settings, this.groupId, this.topic),
      }))) {
        await this.loop.settled();
        this.stop();
        return;
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private checkpointKey(partition: number): string {
    return `${this.groupId}|${this.topic}|${partition}`;
  }

  private stage(state: { stages: Map<string, PipelineMerge> }, pipeline: string): PipelineMerge {
    let stage = state.stages.get(pipeline);
    if (!stage) {
      const def = this.defs.get(pipeline);
      if (!def) {
        throw new ConcordError(`${this.topic} holds partials of ${pipeline}, which this merge stage does not run: run every member of group ${this.o.groupId} with the same --pipeline set`, { domain: 'user' });
      }
      state.stages.set(pipeline, (stage = pipelineMerge(def, inputTopic(this.schema), this.inputPartitions, this.topic, this.o.upgradeFrom)));
    }
    return stage;
  }

  /** Keeps the state of partitions it still owns only when the membership `continued` (see MemberHandlers.assigned). */
  private async assign(assigned: number[], continued: boolean): Promise<void> {
    const keep = new Set(continued ? assigned : []);
    for (const p of [...this.owned.keys()]) {
      if (keep.has(p)) continue;
      this.published.forget(this.owned.get(p)!.stages.keys());
      this.owned.delete(p);
      this.watch.forget(this.topic, p);
      this.purge.forget(p);
    }
    const fresh = assigned.filter((p) => !this.owned.has(p));
    if (fresh.length === 0) return;
    const stored = await readLatestByKey(this.o.settings, this.names.checkpoints);
    for (const p of fresh) {
      const cp = readMergeCheckpoint(stored, this.checkpointKey(p));
      const state = { next: cp.next, stages: new Map<string, PipelineMerge>() };
      for (const [pipeline, head, parts] of cp.stages) this.stage(state, pipeline).restore(head, parts);
      this.owned.set(p, state);
      this.watch.position(this.topic, p, state.next);
    }
    this.o.log?.(`merge: assigned ${this.topic} partitions [${assigned.join(', ')}]`);
  }

  private async process(batch: InBatch): Promise<boolean> {
    // Dropped after a refused commit: nothing is held until the next assignment restores (and reads again).
    if (this.loop.stopping || !this.joined) return false;
    const state = this.owned.get(batch.partition);
    if (!state || batch.topic !== this.topic) throw new ConcordError(`merge received ${batch.topic}:${batch.partition}, which is not assigned to it`);
    for (const record of batch.records) {
      if (record.offset < state.next) continue; // already in the restored state
      const m = decodeMergeMessage(record, `${this.topic}:${batch.partition}@${record.offset}`);
      if (m.type === 'progress') {
        this.stats.progress++;
        if (this.o.metrics) {
          const byPartition = this.reportedW.get(m.pipeline) ?? new Map<number, number>();
          this.reportedW.set(m.pipeline, byPartition.set(m.partition, progressWatermark(m)));
        }
      } else this.stats.partials++;
      this.stage(state, m.pipeline).accept(m);
    }
    const last = batch.records.at(-1);
    this.watch.position(this.topic, batch.partition, Math.max(batch.next ?? 0, last ? last.offset + 1 : 0));
    // Only transaction markers were read: nothing to merge or commit.
    if (!last) return true;
    state.next = Math.max(state.next, last.offset + 1);
    const out: OutRecord[] = [];
    let duplicates = 0;
    const metrics = this.o.metrics;
    let merged = 0;
    for (const [name, stage] of state.stages) {
      const results = stage.advance();
      merged += results.length;
      if (metrics && results.length > 0) metrics.eventsOut(name, results.length);
      for (const r of results) out.push({ topic: this.names.results, key: `${r.pipeline}|${cellKey(r)}`, value: JSON.stringify(resultToJson(r)) });
      for (const l of stage.lateRecords()) out.push({ topic: this.names.late, ...l });
      // How far the merged results reached, in their transaction, when it moved (stream/watermark-reports.ts).
      const w = stage.watermark;
      if (w > Number.NEGATIVE_INFINITY && this.published.moved(name, w)) out.push(mergeReport(this.names.watermarks, { pipeline: name, version: this.versions.get(name)!, watermark: w }));
      duplicates += stage.duplicates;
    }
    const checkpoint = mergeCheckpointRecords(this.names.checkpoints, this.checkpointKey(batch.partition), state.next, state.stages, this.o.upgradeFrom);
    out.push(...checkpoint.records);
    const committing = performance.now();
    try {
      await this.producer.commit(out, { generation: batch.generation, topic: this.topic, partitions: [{ partition: batch.partition, offset: state.next }] });
    } catch (error) {
      if (!(error instanceof GroupFencedError)) throw error;
      // The group moved on meanwhile (KIP-447): all state is dropped; the next assignment restores from
      // the last committed checkpoints (MemberConsumer.afterRefusal).
      this.owned.clear();
      this.watch.forget();
      this.purge.forget();
      this.published.forget();
      this.joined = false;
      this.o.log?.(`merge: transaction refused and aborted: ${error.message}`);
      this.consumer!.afterRefusal(error);
      return true;
    }
    this.purge.committedTo(batch.partition, state.next);
    this.stats.results += merged;
    this.stats.duplicates = duplicates;
    this.stats.transactions++;
    this.stats.checkpointBytes += checkpoint.bytes;
    if (metrics) {
      metrics.transactionCommit((performance.now() - committing) / 1000);
      // The merge's W: the least W the input partitions' workers reported (labelled partition "merge").
      for (const [pipeline, byPartition] of this.reportedW) metrics.watermark(pipeline, 'merge', Math.min(...byPartition.values()));
    }
    return true;
  }
}
