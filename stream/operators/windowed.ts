import type { AggregateFunction } from '../../pipeline/aggregates.ts';
import { namedAggregateFunction } from '../../pipeline/filtered-aggregates.ts';
import type { WindowedPipeline } from '../../pipeline/definition.ts';
import { isLateForWindow, windowHasFired } from '../../pipeline/lateness.ts';
import { eventPaneIdOf, keyValuesOf } from '../../pipeline/keys.ts';
import { assignWindows, windowEnd } from '../../pipeline/windows.ts';
import { detached, detachedValues } from '../../schemas/flat-json.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import type { EventPosition, KeyValues } from '../../schemas/results.ts';
import { stateBudgetCells, stateBudgetExceeded } from '../../pipeline/state-budget.ts';
import { checkSnapshot, EventTimeOperator, type Emitter, type OperatorCheckpoint, type OperatorOptions, type OperatorSnapshot } from './operator.ts';

interface Pane {
  readonly key: KeyValues;
  readonly accs: unknown[];
  /** -1 until the pane's first firing. */
  revision: number;
}

interface WindowSnapshot {
  start: number;
  end: number;
  fired: boolean;
  panes: { id: string; key: KeyValues; revision: number; accs: unknown[] }[];
}

/** One window cell (a key's pane in a window) as a part record of its own (incremental checkpoints). */
interface CellWire {
  start: number;
  end: number;
  fired: boolean;
  id: string;
  key: KeyValues;
  revision: number;
  accs: unknown[];
}

/** The state in an incremental checkpoint's head: every cell is a part record of its own. */
interface InParts {
  inParts: true;
}

/** A cell's part id: its window's start and its pane's id (pipeline/keys.ts's windowCellId). */
const cellId = (start: number, paneId: string) => `${start}\u0000${paneId}`;

interface WindowState {
  readonly start: number;
  readonly end: number;
  fired: boolean;
  readonly panes: Map<string, Pane>;
}

/**
 * Event-time windowed aggregation with Flink's EventTimeTrigger + allowedLateness semantics
 * (docs/semantics.md). State is one map per open window; panes are per key.
 */
export class WindowedOperator extends EventTimeOperator {
  private readonly def: WindowedPipeline;
  private readonly fns: AggregateFunction<unknown>[];
  /**
   * A pane's id: the identity of its key as results carry it (pipeline/keys.ts), so the merge stage finds
   * a pane by a result's key. Only decimal keys differ from the event's own values (minor units).
   */
  private readonly paneIdOf: (event: AnyEvent) => string;
  private readonly windows = new Map<number, WindowState>();
  /** Smallest end among windows not fired yet / among all windows (cheap checks on every event). */
  private nextFireEnd = Number.POSITIVE_INFINITY;
  private nextDropEnd = Number.POSITIVE_INFINITY;
  /** The highest W a caller fired windows with (`onWatermark`): may run ahead of the tracker's W. */
  private firing = Number.NEGATIVE_INFINITY;
  /** Open (window, key) cells, held against the state budget (pipeline/state-budget.ts). */
  private cells = 0;
  private readonly budget: ReturnType<typeof stateBudgetCells>;
  /**
   * Cells taken into, fired or dropped since the last `checkpoint` (by part id: window start, pane id):
   * an incremental checkpoint writes these only. Whole, every transaction rewrote each changed
   * partition's open windows (180 KB a transaction for clicks in the soak; docs/benchmarks.md).
   * Undefined until a worker checkpoints incrementally (as the lookback rule's).
   */
  private touched: Map<string, [start: number, paneId: string]> | undefined;

  constructor(def: WindowedPipeline, emitter: Emitter, options: OperatorOptions = {}) {
    super(def, emitter, options);
    this.def = def;
    this.fns = def.aggregates.map((a) => namedAggregateFunction(a, def.schema));
    const keys = def.key;
    this.paneIdOf = eventPaneIdOf(def.schema, keys);
    this.budget = stateBudgetCells(def);
    if (options.restore) this.restoreState(options.restore, options.restoreParts);
  }

  snapshot(): OperatorSnapshot {
    const windows: WindowSnapshot[] = [...this.windows.values()].map((win) => ({
      start: win.start,
      end: win.end,
      fired: win.fired,
      panes: [...win.panes].map(([id, pane]) => ({
        id,
        key: pane.key,
        revision: pane.revision,
        accs: pane.accs.map((acc, i) => this.fns[i]!.serialize(acc)),
      })),
    }));
    return this.head(windows);
  }

  /** The head (W, the firing W) and each cell changed since the last call (null: dropped). */
  checkpoint(): OperatorCheckpoint {
    const parts: [string, string | null][] = [];
    const cells = this.touched ?? [...this.windows.values()].flatMap((win) => [...win.panes.keys()].map((id) => [cellId(win.start, id), [win.start, id]] as const));
    for (const [id, [start, paneId]] of cells) {
      const win = this.windows.get(start);
      const pane = win?.panes.get(paneId);
      parts.push([id, win && pane ? JSON.stringify(this.cellWire(win, paneId, pane)) : null]);
    }
    this.touched = new Map();
    return { head: this.head({ inParts: true }), parts };
  }

  private head(state: WindowSnapshot[] | InParts): OperatorSnapshot {
    return { definition: this.version, watermark: this.tracker.snapshot(), state, firing: Number.isFinite(this.firing) ? this.firing : null };
  }

  private cellWire(win: WindowState, id: string, pane: Pane): CellWire {
    return { start: win.start, end: win.end, fired: win.fired, id, key: pane.key, revision: pane.revision, accs: pane.accs.map((acc, i) => this.fns[i]!.serialize(acc)) };
  }

  private touch(start: number, paneId: string): void {
    this.touched?.set(cellId(start, paneId), [start, paneId]);
  }

  /** Serialised accumulators of one pane (for merging partial aggregates across partitions). */
  paneAccumulators(windowStart: number, keyId = ''): unknown[] | undefined {
    const pane = this.windows.get(windowStart)?.panes.get(keyId);
    return pane?.accs.map((acc, i) => this.fns[i]!.serialize(acc));
  }

  /** `paneAccumulators` as JSON text (what a partial carries), from each aggregate's own JSON when it has one. */
  paneAccumulatorsJson(windowStart: number, keyId = ''): string | undefined {
    const pane = this.windows.get(windowStart)?.panes.get(keyId);
    if (!pane) return undefined;
    return `[${pane.accs.map((acc, i) => { const f = this.fns[i]!; return f.serializedJson ? f.serializedJson(acc) : (JSON.stringify(f.serialize(acc)) ?? 'null'); }).join(',')}]`;
  }

  /**
   * From a whole snapshot, or an incremental head with its cells (`parts` given: restored by a worker,
   * which checkpoints incrementally). After a whole one every cell is written by the next `checkpoint`,
   * and cells an earlier incremental run left are deleted (as the lookback rule's keys).
   */
  private restoreState(snap: OperatorSnapshot, parts: readonly string[] | undefined): void {
    checkSnapshot(snap, this.version, this.def.name);
    this.firing = snap.firing ?? Number.NEGATIVE_INFINITY;
    const state = snap.state as WindowSnapshot[] | InParts;
    const stored = (parts ?? []).map((json) => JSON.parse(json) as CellWire);
    const cells = Array.isArray(state) ? state.flatMap((w) => w.panes.map((p) => ({ ...p, start: w.start, end: w.end, fired: w.fired }))) : stored;
    for (const c of cells) this.restoreCell(c);
    if (parts === undefined) return;
    this.touched = new Map();
    if (Array.isArray(state)) for (const c of [...cells, ...stored]) this.touch(c.start, c.id);
  }

  private restoreCell(c: CellWire): void {
    let win = this.windows.get(c.start);
    if (win === undefined) {
      this.windows.set(c.start, (win = { start: c.start, end: c.end, fired: c.fired, panes: new Map() }));
      if (!c.fired && c.end < this.nextFireEnd) this.nextFireEnd = c.end;
      if (c.end < this.nextDropEnd) this.nextDropEnd = c.end;
    }
    win.panes.set(c.id, { key: c.key, revision: c.revision, accs: c.accs.map((a, i) => this.fns[i]!.deserialize(a)) });
    this.cells++;
  }

  /**
   * The W windows fire by: the tracker's, or higher when a caller fired with a higher one (a Kafka
   * worker fires a partition's windows by the minimum over its non-idle partitions, which passes an
   * idle partition's own W). Firing only decides when a first value is shown, never what is late.
   */
  get firingWatermark(): number {
    return this.firing > this.tracker.current ? this.firing : this.tracker.current;
  }

  /** Open (window, key) cells now: its state's size. */
  get stateEntries(): number {
    return this.cells;
  }

  /** Windows holding state now (fired or not). */
  openWindows(): { start: number; end: number }[] {
    return [...this.windows.values()].map((w) => ({ start: w.start, end: w.end }));
  }

  protected accept(event: AnyEvent, position: EventPosition, ts: number, w: number): void {
    const L = this.def.allowedLateness;
    const starts = assignWindows(this.def.window, ts);
    let accepted = false;
    let latestEnd = 0;
    const fireW = this.firingWatermark;
    for (const start of starts) {
      const end = windowEnd(this.def.window, start);
      latestEnd = end;
      if (isLateForWindow(end, L, w)) {
        this.emitter.skipped?.({ pipeline: this.def.name, event, position, watermark: w, windowStart: start, windowEnd: end });
        continue;
      }
      accepted = true;
      this.addToWindow(start, end, event, fireW);
    }
    if (!accepted) {
      this.emitter.late({
        pipeline: this.def.name,
        event,
        position,
        watermark: w,
        windowStart: latestEnd - this.def.window.size,
        windowEnd: latestEnd,
      });
    }
  }

  finish(): void {
    this.onWatermark(this.tracker.finish());
  }

  /**
   * Called when W moves (after an event, or when a source turns idle): fires by the highest W seen
   * (`firingWatermark`), drops state only by the tracker's own W, the W events are judged by: a window
   * is dropped only once every further event for it would be late (and it has fired).
   */
  onWatermark(w: number): void {
    if (w > this.firing) this.firing = w;
    const fireW = this.firingWatermark;
    if (fireW >= this.nextFireEnd - 1) this.fireDue(fireW);
    const own = this.tracker.current;
    if (own >= this.nextDropEnd - 1 + this.def.allowedLateness) this.dropExpired(own);
  }

  private addToWindow(start: number, end: number, event: AnyEvent, w: number): void {
    this.changed = true;
    let win = this.windows.get(start);
    if (win === undefined) {
      win = { start, end, fired: windowHasFired(end, w), panes: new Map() };
      this.windows.set(start, win);
      if (!win.fired && end < this.nextFireEnd) this.nextFireEnd = end;
      if (end < this.nextDropEnd) this.nextDropEnd = end;
    }
    const keyFields = this.def.key;
    const id = this.paneIdOf(event);
    let pane = win.panes.get(id);
    if (pane === undefined) {
      if (++this.cells > this.budget.cells) throw stateBudgetExceeded(this.def, this.cells, this.budget);
      // State outlives the line the event was read from: its strings must not hold the line (schemas/flat-json.ts).
      pane = { key: detachedValues(keyValuesOf(this.def.schema, keyFields, event)), accs: this.fns.map((f) => f.create()), revision: -1 };
      win.panes.set(detached(id), pane);
    }
    for (let i = 0; i < this.fns.length; i++) this.fns[i]!.add(pane.accs[i], event);
    this.touch(start, id);
    // A fired window that is not late yet: every update re-emits the full value at the next revision.
    if (win.fired) this.emitPane(win, pane, w);
  }

  private fireDue(w: number): void {
    const due = [...this.windows.values()].filter((win) => !win.fired && windowHasFired(win.end, w));
    due.sort((a, b) => a.end - b.end || a.start - b.start);
    if (due.length > 0) this.changed = true;
    for (const win of due) {
      win.fired = true;
      for (const [id, pane] of win.panes) {
        this.emitPane(win, pane, w);
        this.touch(win.start, id);
      }
    }
    this.nextFireEnd = Number.POSITIVE_INFINITY;
    for (const win of this.windows.values()) if (!win.fired && win.end < this.nextFireEnd) this.nextFireEnd = win.end;
  }

  private dropExpired(w: number): void {
    this.nextDropEnd = Number.POSITIVE_INFINITY;
    for (const [start, win] of this.windows) {
      if (win.fired && isLateForWindow(win.end, this.def.allowedLateness, w)) {
        this.cells -= win.panes.size;
        this.windows.delete(start);
        for (const id of win.panes.keys()) this.touch(start, id);
        this.changed = true;
      }
      else if (win.end < this.nextDropEnd) this.nextDropEnd = win.end;
    }
  }

  private emitPane(win: WindowState, pane: Pane, w: number): void {
    pane.revision++;
    const values: Record<string, number | null> = {};
    this.def.aggregates.forEach((a, i) => {
      values[a.output] = this.fns[i]!.result(pane.accs[i]);
    });
    this.emitter.result({
      kind: 'window',
      pipeline: this.def.name,
      windowStart: win.start,
      windowEnd: win.end,
      key: pane.key,
      values,
      revision: pane.revision,
      watermark: w,
      definitionVersion: this.version,
    });
  }
}
