import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { needsMergeStage } from '../stream/kafka/topics.ts';
import { decodeWatermarkReport, PipelineWatermark } from '../stream/watermark-reports.ts';

/** The read_committed ends of a topic's partitions (endOffsets), and where the sink has written a partition to. */
export interface SinkReadPositions {
  ends(topic: string): Promise<Map<number, number>>;
  /** The next offset of `topic`:`partition` this sink wrote the rows before (undefined: not its partition, or none read yet). */
  next(topic: string, partition: number): number | undefined;
  /** The offsets the sink's group committed per partition of `topic` (after writing the rows before them). */
  committed(topic: string): Promise<Map<number, number>>;
}

/**
 * A store write of one pipeline's watermark (the store keeps the max); `ended`: its input ended there,
 * every partition drained by a bounded run (`run --stop-when-idle`), where (store/input-ends.ts).
 */
export type WriteWatermark = (pipeline: string, w: number, ended?: { run: string; at: string }) => Promise<void>;

type Drained = NonNullable<PipelineWatermark['drained']>;

/** A drained pipeline's end as the store keeps it: the run (its group) and how far each partition was read. */
export function drainedInput(drained: Drained): { run: string; at: string } {
  const groups = [...new Set(drained.map((p) => p.drainedAt?.group).filter((g) => g !== undefined))];
  return {
    run: `concord run --stop-when-idle${groups.length > 0 ? ` (group ${groups.join(', ')})` : ''}`,
    at: `every input partition drained (${drained.map((p) => `${p.partition}${p.drainedAt ? ` to offset ${p.drainedAt.next}` : ''}`).join(', ')})`,
  };
}

/**
 * The store sink's side of the watermarks topic (stream/watermark-reports.ts): the reports of its
 * pipelines (of its definition versions) combined per pipeline, and written to the store only once the
 * sink has written the rows those reports cover. A report is read from a committed transaction, so
 * every result and late event of that transaction lies below the ends of concord.results and
 * concord.late taken after it: a W waits until the sink's positions pass those ends, so the store never
 * holds a W ahead of rows the stream committed before it (a day sealed before its last rows came in).
 */
export class SinkWatermarks {
  private readonly states = new Map<string, PipelineWatermark>();
  private readonly versions: Map<string, string>;
  /** Pipelines with a report since the last barrier. */
  private readonly moved = new Set<string>();
  /** W per pipeline waiting for the sink's reads to pass `barrier` (topic -> partition -> end). */
  private readonly waiting: { ws: Map<string, { w: number; ended?: { run: string; at: string } }>; barrier: Map<string, Map<number, number>> }[] = [];
  /** The W last written per pipeline (the store keeps the max anyway: this saves the writes). */
  private readonly written = new Map<string, number>();
  /** Pipelines whose drained end was written (written again after a report that runs). */
  private readonly endWritten = new Set<string>();
  /** Reports of other definition versions of its pipelines, and of pipelines it does not run. */
  otherVersion = 0;
  skipped = 0;

  constructor(
    pipelines: readonly PipelineDefinition[],
    /** The topics whose rows a W covers (concord.results, concord.late). */
    private readonly covered: readonly string[],
    private readonly positions: SinkReadPositions,
    private readonly write: WriteWatermark,
  ) {
    this.versions = new Map(pipelines.map((p) => [p.name, definitionVersion(p)]));
    for (const p of pipelines) this.states.set(p.name, new PipelineWatermark(needsMergeStage(p)));
  }

  /** One record of the watermarks topic (`where`: its place, for messages). */
  accept(value: string, where: string): void {
    const r = decodeWatermarkReport(value, where);
    const state = this.states.get(r.pipeline);
    if (!state) {
      this.skipped++;
      return;
    }
    if (r.definition_version !== this.versions.get(r.pipeline)) {
      this.otherVersion++;
      return;
    }
    state.report(r);
    this.moved.add(r.pipeline);
  }

  /** Nothing reported and not written yet. */
  get settled(): boolean {
    return this.moved.size === 0 && this.waiting.length === 0;
  }

  /**
   * Takes the ends of the covered topics for what moved since the last call, and writes every W whose
   * ends the sink's reads have passed. One call at a time (the caller's).
   */
  async settle(): Promise<void> {
    if (this.moved.size > 0) {
      const ws = new Map<string, { w: number; ended?: { run: string; at: string } }>();
      for (const pipeline of this.moved) {
        const state = this.states.get(pipeline)!;
        const w = state.current;
        const drained = state.drained;
        if (drained === undefined) this.endWritten.delete(pipeline);
        // Every partition drained: its end is written with W, even a W written before (Flink's final watermark).
        const ended = drained !== undefined && !this.endWritten.has(pipeline) ? drainedInput(drained) : undefined;
        if (w !== undefined && (w > (this.written.get(pipeline) ?? Number.NEGATIVE_INFINITY) || ended)) ws.set(pipeline, { w, ...(ended ? { ended } : {}) });
      }
      this.moved.clear();
      if (ws.size > 0) {
        const barrier = new Map<string, Map<number, number>>();
        for (const topic of this.covered) barrier.set(topic, await this.positions.ends(topic));
        this.waiting.push({ ws, barrier });
      }
    }
    while (this.waiting[0] && (await this.passed(this.waiting[0].barrier))) {
      for (const [pipeline, { w, ended }] of this.waiting[0].ws) {
        if (w <= (this.written.get(pipeline) ?? Number.NEGATIVE_INFINITY) && !ended) continue;
        await this.write(pipeline, w, ended);
        this.written.set(pipeline, Math.max(w, this.written.get(pipeline) ?? w));
        if (ended) this.endWritten.add(pipeline);
      }
      this.waiting.shift();
    }
  }

  /**
   * The sink's reads passed `barrier`: its own positions (transaction markers included), or, for a
   * partition another member of its group reads, that member's committed offset. A committed offset
   * stops short of a transaction's commit marker: such a partition passes only once a later record was
   * written, so with several sink members a W may wait for more output (docs/operations.md).
   */
  private async passed(barrier: Map<string, Map<number, number>>): Promise<boolean> {
    for (const [topic, ends] of barrier) {
      let committed: Map<number, number> | undefined;
      for (const [p, end] of ends) {
        if (end === 0) continue;
        let next = this.positions.next(topic, p);
        if (next === undefined) next = (committed ??= await this.positions.committed(topic)).get(p) ?? 0;
        if (next < end) return false;
      }
    }
    return true;
  }
}
