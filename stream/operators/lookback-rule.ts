import { definitionVersion, type RulePipeline } from '../../pipeline/definition.ts';
import { isBeyondLateness, isDecided } from '../../pipeline/lateness.ts';
import { compareUtf8 } from '../../pipeline/ordering.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import type { EventPosition } from '../../schemas/results.ts';
import { BinaryHeap } from './binary-heap.ts';
import { checkSnapshot, trackerFor, type Emitter, type OperatorOptions, type OperatorSnapshot, type StreamOperator } from './operator.ts';

interface RuleEvent {
  readonly user: UserState;
  readonly ts: number;
  readonly id: string;
  readonly value: string;
  /** Arrival sequence, to order exact (ts, id) duplicates. */
  readonly seq: number;
  decided: boolean;
  satisfied: boolean;
}

interface RuleSnapshot {
  seq: number;
  lastSweep: number | null;
  users: { key: string; lastDroppedSatisfied: boolean; kept: [number, string, string, number, boolean, boolean][] }[];
}

interface UserState {
  readonly key: string;
  /** Kept events in (ts, id, seq) order. */
  readonly kept: RuleEvent[];
  /** Status of the latest event dropped from `kept` (the predecessor of anything older than `kept`). */
  lastDroppedSatisfied: boolean;
}

function before(a: RuleEvent, b: RuleEvent): boolean {
  return a.ts !== b.ts ? a.ts < b.ts : a.id !== b.id ? compareUtf8(a.id, b.id) < 0 : a.seq < b.seq;
}

/**
 * The distinct-over-lookback rule (fraud: > 3 countries within 10 minutes), incrementally:
 * an event is decided once W >= ts, in (ts, id) order per key; late events within the allowed
 * lateness are evaluated once on arrival; decided events are never re-evaluated (docs/semantics.md).
 */
export class LookbackRuleOperator implements StreamOperator {
  private readonly def: RulePipeline;
  private readonly tracker: WatermarkTracker;
  private readonly emitter: Emitter;
  private readonly version: string;
  private readonly users = new Map<string, UserState>();
  private readonly pending = new BinaryHeap<RuleEvent>(before);
  private seq = 0;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(def: RulePipeline, emitter: Emitter, options: OperatorOptions = {}) {
    this.def = def;
    this.emitter = emitter;
    this.version = definitionVersion(def);
    const snap = options.restore;
    this.tracker = trackerFor(def.watermark.maxOutOfOrderness, options);
    if (snap) this.restoreState(snap);
  }

  snapshot(): OperatorSnapshot {
    const state: RuleSnapshot = {
      seq: this.seq,
      lastSweep: Number.isFinite(this.lastSweep) ? this.lastSweep : null,
      users: [...this.users.values()].map((u) => ({
        key: u.key,
        lastDroppedSatisfied: u.lastDroppedSatisfied,
        kept: u.kept.map((e) => [e.ts, e.id, e.value, e.seq, e.decided, e.satisfied]),
      })),
    };
    return { definition: this.version, watermark: this.tracker.snapshot(), state };
  }

  private restoreState(snap: OperatorSnapshot): void {
    checkSnapshot(snap, this.version, this.def.name);
    const state = snap.state as RuleSnapshot;
    this.seq = state.seq;
    this.lastSweep = state.lastSweep ?? Number.NEGATIVE_INFINITY;
    for (const u of state.users) {
      const user: UserState = { key: u.key, kept: [], lastDroppedSatisfied: u.lastDroppedSatisfied };
      for (const [ts, id, value, seq, decided, satisfied] of u.kept) {
        const e: RuleEvent = { user, ts, id, value, seq, decided, satisfied };
        user.kept.push(e);
        if (!decided) this.pending.push(e);
      }
      this.users.set(u.key, user);
    }
  }

  get watermark(): number {
    return this.tracker.current;
  }

  process(event: AnyEvent, position: EventPosition): void {
    const ts = event[this.def.schema.timeField] as number;
    const w = this.tracker.current;
    const L = this.def.allowedLateness;
    if (isDecided(ts, w) && isBeyondLateness(ts, L, w)) {
      this.emitter.late({ pipeline: this.def.name, event, position, watermark: w });
    } else {
      const key = String(event[this.def.key]);
      let user = this.users.get(key);
      if (user === undefined) {
        user = { key, kept: [], lastDroppedSatisfied: false };
        this.users.set(key, user);
      }
      const e: RuleEvent = {
        user,
        ts,
        id: String(event[this.def.schema.idField]),
        value: String(event[this.def.rule.field]),
        seq: this.seq++,
        decided: false,
        satisfied: false,
      };
      const index = this.insert(user, e);
      if (isDecided(ts, w)) {
        this.emitter.lateAccepted?.({ pipeline: this.def.name, event, position, watermark: w });
        this.decide(e, index, w, true);
      }
      else this.pending.push(e);
    }
    const next = this.tracker.observe(position.source, ts);
    if (next !== w) this.onWatermark(next);
  }

  finish(): void {
    this.onWatermark(this.tracker.finish());
  }

  onWatermark(w: number): void {
    for (let top = this.pending.peek(); top !== undefined && isDecided(top.ts, w); top = this.pending.peek()) {
      this.pending.pop();
      this.decide(top, top.user.kept.indexOf(top), w, false);
    }
    // Forget what no future decision can see: ts <= W - L - span (late events above W - L look back one span).
    if (w !== Number.POSITIVE_INFINITY && w - this.lastSweep >= this.def.rule.span) {
      this.lastSweep = w;
      const horizon = w - this.def.allowedLateness - this.def.rule.span;
      for (const user of this.users.values()) this.forget(user, horizon);
    }
  }

  private insert(user: UserState, e: RuleEvent): number {
    const kept = user.kept;
    let i = kept.length;
    while (i > 0 && before(e, kept[i - 1]!)) i--;
    kept.splice(i, 0, e);
    return i;
  }

  private forget(user: UserState, horizon: number): void {
    const kept = user.kept;
    let n = 0;
    while (n < kept.length && kept[n]!.ts <= horizon && kept[n]!.decided) n++;
    if (n > 0) {
      user.lastDroppedSatisfied = kept[n - 1]!.satisfied;
      kept.splice(0, n);
    }
  }

  private decide(e: RuleEvent, index: number, w: number, late: boolean): void {
    const kept = e.user.kept;
    const values = new Set<string>();
    // Everything at or before e in (ts, id) order (exact duplicates included) within the span.
    for (let i = index + 1; i < kept.length && kept[i]!.ts === e.ts && kept[i]!.id === e.id; i++) values.add(kept[i]!.value);
    for (let i = index; i >= 0 && kept[i]!.ts > e.ts - this.def.rule.span; i--) values.add(kept[i]!.value);
    e.decided = true;
    e.satisfied = values.size > this.def.rule.threshold;
    const predecessorSatisfied = index > 0 ? kept[index - 1]!.satisfied : e.user.lastDroppedSatisfied;
    if (e.satisfied && !predecessorSatisfied) {
      this.emitter.result({
        kind: 'alert',
        pipeline: this.def.name,
        key: { [this.def.key]: e.user.key },
        idField: this.def.schema.idField,
        id: e.id,
        ts: e.ts,
        valuesField: this.def.rule.output,
        distinctValues: [...values].sort(compareUtf8),
        late,
        watermark: w,
        definitionVersion: this.version,
      });
    }
  }
}
