import { aggregateFunction } from '../pipeline/aggregates.ts';
import { definitionVersion, type WindowedPipeline } from '../pipeline/definition.ts';
import type { WindowResult } from '../schemas/results.ts';
import type { WindowedOperator } from './operators/windowed.ts';

interface WindowPartials {
  end: number;
  byPartition: Map<number, unknown[]>;
}

/**
 * Merges per-partition partial aggregates of an unkeyed windowed pipeline (e.g. unique visitors:
 * one HyperLogLog per partition) into one result per window, so no partition's partial is ever
 * written as if it were the whole. Each emission of a partition operator hands over its pane's
 * accumulators; at the end of each step (every partition has seen the same W) the touched windows
 * are merged and emitted once, with their own revision counter.
 */
export class PartialMerge {
  private readonly def: WindowedPipeline;
  private readonly version: string;
  private readonly partials = new Map<number, WindowPartials>();
  private readonly touched = new Set<number>();
  /** Last emitted revision per window start (checkpointed). */
  private revisions = new Map<number, number>();

  constructor(def: WindowedPipeline) {
    this.def = def;
    this.version = definitionVersion(def);
  }

  update(partition: number, windowStart: number, windowEnd: number, accumulators: unknown[]): void {
    let w = this.partials.get(windowStart);
    if (!w) this.partials.set(windowStart, (w = { end: windowEnd, byPartition: new Map() }));
    w.byPartition.set(partition, accumulators);
    this.touched.add(windowStart);
  }

  /** Merged results of the windows touched since the last flush; forgets windows no partition holds. */
  flush(watermark: number, live: (windowStart: number) => boolean): WindowResult[] {
    const fns = this.def.aggregates.map((a) => aggregateFunction(a.aggregate));
    const out: WindowResult[] = [];
    for (const start of [...this.touched].sort((a, b) => a - b)) {
      const w = this.partials.get(start)!;
      const accs = fns.map((f) => f.create());
      for (const partial of w.byPartition.values()) partial.forEach((p, i) => fns[i]!.merge(accs[i], fns[i]!.deserialize(p)));
      const values: Record<string, number | null> = {};
      this.def.aggregates.forEach((a, i) => { values[a.output] = fns[i]!.result(accs[i]); });
      const revision = (this.revisions.get(start) ?? -1) + 1;
      this.revisions.set(start, revision);
      out.push({ kind: 'window', pipeline: this.def.name, windowStart: start, windowEnd: w.end, key: {}, values, revision, watermark, definitionVersion: this.version });
    }
    this.touched.clear();
    for (const start of this.partials.keys()) {
      if (!live(start)) {
        this.partials.delete(start);
        this.revisions.delete(start);
      }
    }
    return out;
  }

  snapshot(): [number, number][] {
    return [...this.revisions];
  }

  /** After a restart: revisions from the checkpoint, partials from the restored partition operators. */
  restore(revisions: [number, number][], operators: Map<number, WindowedOperator>): void {
    this.revisions = new Map(revisions);
    for (const [partition, op] of operators) {
      for (const { start, end } of op.openWindows()) {
        const accs = op.paneAccumulators(start);
        if (accs) {
          let w = this.partials.get(start);
          if (!w) this.partials.set(start, (w = { end, byPartition: new Map() }));
          w.byPartition.set(partition, accs);
        }
      }
    }
  }
}
