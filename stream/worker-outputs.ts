import { definitionVersion, isHopping, type PipelineDefinition } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { paneId } from '../pipeline/keys.ts';
import { deadLetterToJson } from '../schemas/decode.ts';
import { cellKey, lateToJson, resultToJson, type DeadLetter, type LateRecord, type ResultRecord } from '../schemas/results.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';
import type { OutRecord } from './kafka/client.ts';
import type { topicNames } from './kafka/topics.ts';
import type { MergeMessage, PartialMessage } from './merge-messages.ts';
import type { Emitter, StreamOperator } from './operators/index.ts';
import { WindowedOperator } from './operators/windowed.ts';
import { countFiltered, countOut, countSkip, StepCounts, type PartitionCounts } from './step-counts.ts';

/**
 * What a stream worker's step will commit, as Kafka records: window and rule results (compacted
 * upserts keyed by pipeline|cell), late events, dead letters, and the merge stage's partials and
 * progress for pipelines whose keys span partitions; and what they count (StepCounts: added to the
 * worker's totals once the transaction commits). `take` hands them to the step's transaction.
 */
export class WorkerOutputs {
  private out: OutRecord[] = [];
  /** Pipelines of the window results emitted since the last `take` (for the emit delay; only with metrics). */
  private emitted: string[] = [];
  /** What the records and the events admitted since the last `take` count (WorkerAdmission counts here too). */
  private pending = new StepCounts();
  private readonly versions: readonly string[];
  /** Per pipeline: hopping windows (its skipped window assignments are the summary's line). */
  private readonly hopping: readonly boolean[];

  constructor(
    /** The stream group's partials topic (topicNames().partials), for the pipelines merged across partitions. */
    private readonly partialsTopic: string,
    private readonly schema: string,
    private readonly pipelines: readonly PipelineDefinition[],
    /** Per pipeline: merged across partitions (needsMergeStage). */
    private readonly merged: readonly boolean[],
    private readonly names: ReturnType<typeof topicNames>,
    /** A partition's operator of a pipeline (its pane accumulators become the merge stage's partials). */
    private readonly operatorOf: (partition: number, pipelineIndex: number) => StreamOperator | undefined,
    private readonly metrics?: ProcessMetrics,
    /** A partition's cumulative counts (PartitionState.counts): the late events are counted there too. */
    private readonly countsOf: (partition: number) => PartitionCounts | undefined = () => undefined,
  ) {
    this.versions = pipelines.map((p) => definitionVersion(p));
    this.hopping = pipelines.map((p) => isHopping(p));
  }

  /** What the step in the making counts so far (dropped with its records by `clear`). */
  get counts(): StepCounts {
    return this.pending;
  }

  /** The records, emitted pipelines and counts so far, for one transaction; the outputs start empty again. */
  take(): { records: OutRecord[]; emitted: string[]; counts: StepCounts } {
    const taken = { records: this.out, emitted: this.emitted, counts: this.pending };
    this.out = [];
    this.emitted = [];
    this.pending = new StepCounts();
    return taken;
  }

  /** Forgets everything not taken (its partitions' state was dropped). */
  clear(): void {
    this.take();
  }

  /** A record for the merge stage: keyed by pipeline, so one pipeline's records keep their order. */
  toMerge(pipeline: string, message: MergeMessage): void {
    this.out.push({ topic: this.partialsTopic, key: pipeline, value: JSON.stringify(message) });
  }

  /** A record of the watermarks topic (WorkerPartitions.reportWatermarks), in the step's transaction. */
  watermarkReport(record: OutRecord): void {
    this.out.push(record);
  }

  deadLetter(d: DeadLetter, partition: number): void {
    this.out.push({ topic: this.names.deadLetter, key: d.source, value: JSON.stringify({ ...deadLetterToJson(d, this.schema), partition }) });
  }

  /** The emitter of one pipeline's operator over one partition. */
  emitterFor(pipelineIndex: number, partition: number): Emitter {
    const def = this.pipelines[pipelineIndex]!;
    return {
      result: (r) => {
        if (this.merged[pipelineIndex] && r.kind === 'window') {
          this.partial(def, pipelineIndex, partition, r);
          return;
        }
        if (this.metrics && r.kind === 'window') this.emitted.push(r.pipeline);
        this.result(r);
      },
      late: (l) => {
        for (const c of this.counted(partition)) {
          c.late++;
          c.latePerPipeline[def.name] = (c.latePerPipeline[def.name] ?? 0) + 1;
        }
        this.late(pipelineIndex, l, {});
      },
      skipped: () => {
        countSkip(this.pending, def.name, this.hopping[pipelineIndex]!);
        const c = this.countsOf(partition);
        if (c && this.hopping[pipelineIndex]) c.lateWindowSkips++;
      },
      filtered: () => countFiltered(this.pending, def.name),
      // Recorded too (flagged), so reconcile knows every event this worker judged late, not only the dropped ones.
      lateAccepted: (l) => {
        for (const c of this.counted(partition)) c.lateAccepted++;
        this.late(pipelineIndex, l, { evaluated_on_arrival: true });
      },
    };
  }

  /** Where a late event of `partition` is counted: the step's counts and the partition's. */
  private counted(partition: number): Array<Pick<PartitionCounts, 'late' | 'latePerPipeline' | 'lateAccepted'>> {
    const c = this.countsOf(partition);
    return c ? [this.pending, c] : [this.pending];
  }

  /**
   * A late event with where it arrived and the definition version that judged it: another group's
   * definition of the same pipeline name writes to the same late topic, and its late events are not this
   * one's (the sink and `results --late-output` leave them out, as they do its result rows).
   */
  private late(pipelineIndex: number, l: LateRecord, flags: { evaluated_on_arrival?: true }): void {
    const def = this.pipelines[pipelineIndex]!;
    const value = { ...lateToJson(l, def.schema), source: l.position.source, offset: l.position.offset, ...flags, definition_version: this.versions[pipelineIndex] };
    this.out.push({ topic: this.names.late, key: `${def.name}|${String(l.event[def.schema.idField] ?? '')}`, value: JSON.stringify(value) });
  }

  /**
   * A window of a pipeline merged across partitions: this partition's accumulators, never a total. Their
   * JSON is spliced in as the last field, not stringified with the message: an approx_distinct pane is
   * 22 KB of text, re-sent for every event a fired window takes (the same bytes as `toMerge` would write).
   */
  private partial(def: PipelineDefinition, pipelineIndex: number, partition: number, r: Extract<ResultRecord, { kind: 'window' }>): void {
    const op = this.operatorOf(partition, pipelineIndex);
    const accumulators = op instanceof WindowedOperator ? op.paneAccumulatorsJson(r.windowStart, paneId(def.kind === 'windowed' ? def.key : [], r.key)) : undefined;
    if (accumulators === undefined) throw new ConcordError(`${def.name}: window ${r.windowStart} of partition ${partition} fired without state`);
    const head: Omit<PartialMessage, 'accumulators'> = {
      type: 'partial', pipeline: def.name, definition: this.versions[pipelineIndex]!, partition, window_start: r.windowStart, window_end: r.windowEnd, key: r.key, revision: r.revision,
    };
    this.out.push({ topic: this.partialsTopic, key: def.name, value: `${JSON.stringify(head).slice(0, -1)},"accumulators":${accumulators}}` });
    countOut(this.pending, def.name);
  }

  private result(r: ResultRecord): void {
    this.pending.results++;
    countOut(this.pending, r.pipeline);
    this.out.push({ topic: this.names.results, key: `${r.pipeline}|${cellKey(r)}`, value: JSON.stringify(resultToJson(r)) });
  }
}
