import { aggregateFunction, type AggregateFunction } from '../pipeline/aggregates.ts';
import { definitionVersion, type WindowedPipeline } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { isLateForWindow, windowHasFired } from '../pipeline/lateness.ts';
import { windowCellId } from '../pipeline/keys.ts';
import type { KeyValues, WindowResult } from '../schemas/results.ts';
import type { PartsCheckpoint } from './merge-checkpoints.ts';
import { OTHER_VERSION_ADVICE } from './partition-checkpoint.ts';

/** One input partition's partial aggregate of a (window, key), at that partition operator's revision. */
export interface Partial {
  readonly partition: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  /** The pipeline's key values ({} when unkeyed). */
  readonly key: KeyValues;
  readonly revision: number;
  /** Serialised accumulators, one per aggregate of the definition. */
  readonly accumulators: readonly unknown[];
}

interface MergeWindow {
  start: number;
  end: number;
  key: KeyValues;
  partials: Map<number, { revision: number; accumulators: readonly unknown[] }>;
  /** Revision of the last merged emission; -1 = not fired yet. */
  revision: number;
  changed: boolean;
}

export interface PartialMergeSnapshot {
  readonly definition: string;
  readonly watermark: number | null;
  readonly inputs: [number, number | null][];
  /** Per input partition, its own W as reported (absent in older checkpoints: the input's W). */
  readonly sources?: [number, number | null][];
  /** The W state is dropped by (absent: the merge W). */
  readonly cleanup?: number | null;
  readonly windows: WindowSnapshot[];
}

type WindowSnapshot = { start: number; end: number; key: KeyValues; revision: number; changed: boolean; partials: [number, number, unknown[]][] };

/**
 * An incremental checkpoint (kafka-merge.ts): the stage without its windows, and each window changed since
 * the last one by its id (its snapshot as JSON, or null: dropped). Restoring the last head with the latest
 * part per id gives the state back (`restoreParts`).
 */
export type PartialMergeDelta = PartsCheckpoint<PartialMergeSnapshot>;

export interface MergeStats {
  /** Partials already seen at that revision (re-sent after a rebalance or a drain). */
  duplicates: number;
  /** Partials for windows the merge had already dropped (beyond the allowed lateness). */
  expired: number;
}

/**
 * The merge stage of an unkeyed (or differently keyed) windowed pipeline over many input partitions:
 * workers emit per-partition partial accumulators per (window, key) (e.g. one HyperLogLog per
 * partition), never competing totals, and this combines them. Its watermark is the minimum over its inputs, each input being the W
 * a partition's operator has been advanced to; a window fires once that passes its end - 1, exactly
 * when the one-worker operator would fire it, and it is merged from every partition's latest partial,
 * so the number equals the one-worker number bit for bit. A newer partial of a fired window (a late
 * update within the allowed lateness) re-emits the window at the next revision. Pure: no I/O.
 */
export class PartialMergeStage {
  readonly def: WindowedPipeline;
  private readonly version: string;
  private readonly fns: AggregateFunction<unknown>[];
  private readonly inputs = new Map<number, number>();
  /** Each input partition's own W (max ts - B - 1): no partition accepts an event late by it any more. */
  private readonly sources = new Map<number, number>();
  /** By `start \0 key id`. */
  private readonly windows = new Map<string, MergeWindow>();
  /** Ids of the windows with partials not yet emitted (`changed`) by their end: what `advance` may fire. */
  private readonly pending = new Map<number, Set<string>>();
  /** Ids of the windows by their end: what `advance` may drop. */
  private readonly byEnd = new Map<number, Set<string>>();
  private w = Number.NEGATIVE_INFINITY;
  /** Windows created, changed, fired or dropped since the last `checkpoint`. */
  private readonly touched = new Set<string>();
  /** min over the partitions' own W: a window is dropped by it, never by the firing W alone. */
  private cleanup = Number.NEGATIVE_INFINITY;
  readonly stats: MergeStats = { duplicates: 0, expired: 0 };

  constructor(def: WindowedPipeline, inputPartitions: number) {
    this.def = def;
    this.version = definitionVersion(def);
    this.fns = def.aggregates.map((a) => aggregateFunction(a.aggregate, def.schema));
    for (let p = 0; p < inputPartitions; p++) {
      this.inputs.set(p, Number.NEGATIVE_INFINITY);
      this.sources.set(p, Number.NEGATIVE_INFINITY);
    }
  }

  /** The merge watermark: min over the inputs, never moving back but after a drain (`progress`). */
  get watermark(): number {
    return this.w;
  }

  /**
   * Input `partition`'s operator has fired its windows up to `watermark`, and the partition's own W
   * (which judges its events: none later than that is accepted for a window with end - 1 + L <= it) is
   * `sourceWatermark` (default: `watermark`, when the two are one). A window fires here by the minimum
   * of the first, and is dropped only by the minimum of the second: a partial can still come while any
   * partition may accept an event for the window.
   */
  progress(partition: number, watermark: number, sourceWatermark = watermark): void {
    if (!this.inputs.has(partition)) throw new ConcordError(`${this.def.name}: progress from input partition ${partition}, but the merge has ${this.inputs.size} inputs`);
    // A drain's +infinity fires every window but drops none: the next run of the group restores the
    // workers' last checkpoints (the drain is never checkpointed) and fires again the windows still open
    // there, from some partitions only (another worker's may have fired them before); the others'
    // partials of those windows must still be here to merge with.
    const source = sourceWatermark === Number.POSITIVE_INFINITY ? this.sources.get(partition)! : Math.min(sourceWatermark, watermark);
    if (this.inputs.get(partition) === Number.POSITIVE_INFINITY && watermark !== Number.POSITIVE_INFINITY) {
      // +infinity is only ever a drain's (the end of a bounded run), which its worker never checkpoints: a
      // W below it is a run continuing the partition from its last checkpoint. Taken as it is, or every
      // window of the new input would lie behind the drain's +infinity and never be merged (a second
      // bounded run in a group merged no result). Once the whole input had drained, this is a new run:
      // every partition is restored from its checkpoint and holds the W back until its worker reports it.
      const allDrained = [...this.inputs.values()].every((w) => w === Number.POSITIVE_INFINITY);
      if (allDrained) {
        for (const p of this.inputs.keys()) {
          this.inputs.set(p, Number.NEGATIVE_INFINITY);
          this.sources.set(p, Number.NEGATIVE_INFINITY);
        }
      }
      // The restored operators fire those windows again at the revisions they had restored (the same as
      // the drain's, with more input read): they replace the drain's partials, not repeat them.
      this.replaceable(allDrained ? [...this.inputs.keys()] : [partition]);
      this.inputs.set(partition, watermark);
      this.sources.set(partition, source);
      // At once, not at the next `advance`: a partial in the same batch is judged by them.
      this.w = Math.min(...this.inputs.values());
      this.cleanup = Math.min(...this.sources.values());
      return;
    }
    this.inputs.set(partition, Math.max(this.inputs.get(partition)!, watermark));
    this.sources.set(partition, Math.max(this.sources.get(partition)!, source));
  }

  /** The partials of `partitions` are replaced by the next of each, whatever its revision. */
  private replaceable(partitions: readonly number[]): void {
    for (const [id, win] of this.windows) {
      for (const p of partitions) {
        const held = win.partials.get(p);
        if (held === undefined) continue;
        win.partials.set(p, { ...held, revision: -1 });
        this.touched.add(id);
      }
    }
  }

  partial(p: Partial): void {
    const id = windowCellId(p.windowStart, this.def.key, p.key);
    let win = this.windows.get(id);
    if (!win && isLateForWindow(p.windowEnd, this.def.allowedLateness, this.cleanup)) {
      this.stats.expired++;
      return;
    }
    if (!win) this.add(id, (win = { start: p.windowStart, end: p.windowEnd, key: p.key, partials: new Map(), revision: -1, changed: false }));
    const seen = win.partials.get(p.partition);
    if (seen && seen.revision >= p.revision) {
      this.stats.duplicates++;
      return;
    }
    win.partials.set(p.partition, { revision: p.revision, accumulators: p.accumulators });
    win.changed = true;
    addTo(this.pending, win.end, id);
    this.touched.add(id);
  }

  private add(id: string, win: MergeWindow): void {
    this.windows.set(id, win);
    if (win.changed) addTo(this.pending, win.end, id);
    addTo(this.byEnd, win.end, id);
  }

  /**
   * Applies the inputs' watermarks: fires the windows W has passed, re-emits fired windows whose
   * partials changed, and drops windows beyond the allowed lateness. Results in window order. Windows
   * are found by their end (a few distinct ends): the cost follows the windows that fire or drop, not
   * every open one (with a wide event-time spread between partitions, many wait).
   */
  advance(): WindowResult[] {
    this.w = Math.max(this.w, Math.min(...this.inputs.values()));
    this.cleanup = Math.max(this.cleanup, Math.min(...this.sources.values()));
    const due: [string, MergeWindow][] = [];
    for (const [end, ids] of this.pending) {
      if (!windowHasFired(end, this.w)) continue;
      for (const id of ids) due.push([id, this.windows.get(id)!]);
      this.pending.delete(end);
    }
    due.sort(([a, x], [b, y]) => x.start - y.start || (a < b ? -1 : a > b ? 1 : 0));
    const out: WindowResult[] = [];
    for (const [id, win] of due) {
      win.revision++;
      win.changed = false;
      out.push(this.merged(win));
      this.touched.add(id);
    }
    // Dropped only once fired: a pending window of that end was emitted above.
    for (const [end, ids] of this.byEnd) {
      if (!isLateForWindow(end, this.def.allowedLateness, this.cleanup) || !windowHasFired(end, this.w)) continue;
      for (const id of ids) {
        this.windows.delete(id);
        this.touched.add(id);
      }
      this.byEnd.delete(end);
    }
    return out;
  }

  private merged(win: MergeWindow): WindowResult {
    const accs = this.fns.map((f) => f.create());
    // In partition order, whatever order the partials came in: a sum of doubles depends on the order of
    // its additions, and the same topic must give the same number in every run (issue 12).
    const partials = [...win.partials].sort((a, b) => a[0] - b[0]).map(([, partial]) => partial);
    for (const { accumulators } of partials) {
      accumulators.forEach((a, i) => this.fns[i]!.merge(accs[i], this.fns[i]!.deserialize(a)));
    }
    const values: Record<string, number | null> = {};
    this.def.aggregates.forEach((a, i) => { values[a.output] = this.fns[i]!.result(accs[i]); });
    return {
      kind: 'window', pipeline: this.def.name, windowStart: win.start, windowEnd: win.end, key: win.key, values,
      revision: win.revision, watermark: this.w, definitionVersion: this.version,
    };
  }

  snapshot(): PartialMergeSnapshot {
    return { ...this.head(), windows: [...this.windows.values()].map(windowSnapshot) };
  }

  /** The stage without its windows (the head of an incremental checkpoint). */
  private head(): PartialMergeSnapshot {
    const finite = (v: number) => (Number.isFinite(v) ? v : v > 0 ? Number.MAX_VALUE : null);
    return {
      definition: this.version,
      watermark: finite(this.w),
      inputs: [...this.inputs].map(([p, w]) => [p, finite(w)]),
      sources: [...this.sources].map(([p, w]) => [p, finite(w)]),
      cleanup: finite(this.cleanup),
      windows: [],
    };
  }

  /** What changed since the last call (the first call: every window created since the start or restore). */
  checkpoint(): PartialMergeDelta {
    const parts: [string, string | null][] = [];
    for (const id of this.touched) {
      const win = this.windows.get(id);
      parts.push([id, win ? JSON.stringify(windowSnapshot(win)) : null]);
    }
    this.touched.clear();
    return { head: this.head(), parts };
  }

  /** Restores an incremental checkpoint: the head and the latest part (JSON) of every window not dropped. */
  restoreParts(head: PartialMergeSnapshot, parts: Iterable<string>): void {
    const windows = [...head.windows];
    for (const json of parts) windows.push(JSON.parse(json) as WindowSnapshot);
    this.restore({ ...head, windows });
    // A head holding windows is a whole checkpoint (written before the parts, or as the fallback): the
    // next incremental one must write them all, its head holds none.
    if (head.windows.length > 0) for (const id of this.windows.keys()) this.touched.add(id);
  }

  restore(snap: PartialMergeSnapshot): void {
    if (snap.definition !== this.version) {
      throw new ConcordError(`${this.def.name}: the merge checkpoint is from another definition version; ${OTHER_VERSION_ADVICE}`, { domain: 'user' });
    }
    const value = (v: number | null) => (v === null ? Number.NEGATIVE_INFINITY : v === Number.MAX_VALUE ? Number.POSITIVE_INFINITY : v);
    this.w = value(snap.watermark);
    for (const [p, w] of snap.inputs) this.inputs.set(p, value(w));
    for (const [p, w] of snap.sources ?? snap.inputs) this.sources.set(p, value(w));
    this.cleanup = value(snap.cleanup === undefined ? snap.watermark : snap.cleanup);
    this.windows.clear();
    this.pending.clear();
    this.byEnd.clear();
    this.touched.clear();
    for (const win of snap.windows) {
      this.add(windowCellId(win.start, this.def.key, win.key), {
        start: win.start, end: win.end, key: win.key, revision: win.revision, changed: win.changed,
        partials: new Map(win.partials.map(([p, revision, accumulators]) => [p, { revision, accumulators }])),
      });
    }
  }
}

function addTo(index: Map<number, Set<string>>, end: number, id: string): void {
  const ids = index.get(end);
  if (ids) ids.add(id);
  else index.set(end, new Set([id]));
}

function windowSnapshot(win: MergeWindow): WindowSnapshot {
  return {
    start: win.start, end: win.end, key: win.key, revision: win.revision, changed: win.changed,
    partials: [...win.partials].map(([p, v]) => [p, v.revision, [...v.accumulators]]),
  };
}
