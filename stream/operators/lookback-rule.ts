import { addExact, isFloatingRuleSum } from '../../pipeline/aggregates.ts';
import type { RulePipeline } from '../../pipeline/definition.ts';
import { isBeyondLateness, isDecided } from '../../pipeline/lateness.ts';
import { keyValuesOf, paneId, type KeyValues } from '../../pipeline/keys.ts';
import { compareUtf8, compareValues } from '../../pipeline/ordering.ts';
import { detached, detachedValues } from '../../schemas/flat-json.ts';
import { presentValue, unitScale, type AnyEvent, type FieldValue } from '../../schemas/schema.ts';
import type { EventPosition } from '../../schemas/results.ts';
import { BinaryHeap } from './binary-heap.ts';
import { doubleSum, firstAfter, SpanMeasure } from './span-measure.ts';
import { stateBudgetCells, stateBudgetExceeded } from '../../pipeline/state-budget.ts';
import { checkSnapshot, EventTimeOperator, type Emitter, type OperatorCheckpoint, type OperatorOptions, type OperatorSnapshot } from './operator.ts';

interface RuleEvent {
  readonly user: UserState;
  readonly ts: number;
  readonly id: string;
  /** The measured field's value (undefined: null, or a `count` rule). */
  readonly value: FieldValue | undefined;
  /** Arrival sequence, to order exact (ts, id) duplicates. */
  readonly seq: number;
  decided: boolean;
  satisfied: boolean;
}

/** One key's state as checkpointed: in the whole snapshot, or as a part record of its own. */
interface UserWire {
  key: string;
  output: KeyValues;
  lastDroppedSatisfied: boolean;
  kept: [ts: number, id: string, value: FieldValue | null, seq: number, decided: boolean, satisfied: boolean][];
}

interface RuleSnapshot {
  seq: number;
  lastSweep: number | null;
  users: UserWire[];
  /** The head of an incremental checkpoint: `users` is empty, each key is a part record of its own. */
  inParts?: true;
}

interface UserState {
  /** Key identity (pipeline/keys.ts) and the key as written out. */
  readonly key: string;
  readonly output: KeyValues;
  /** Kept events in (ts, id, seq) order. */
  readonly kept: RuleEvent[];
  /** Status of the latest event dropped from `kept` (the predecessor of anything older than `kept`). */
  lastDroppedSatisfied: boolean;
  /** The measure of its last decision, slid to the next one (not for double sums; made at the first decision). */
  span?: SpanMeasure;
}

function userWire(u: UserState): UserWire {
  return { key: u.key, output: u.output, lastDroppedSatisfied: u.lastDroppedSatisfied, kept: u.kept.map((e) => [e.ts, e.id, e.value ?? null, e.seq, e.decided, e.satisfied]) };
}

function before(a: RuleEvent, b: RuleEvent): boolean {
  return a.ts !== b.ts ? a.ts < b.ts : a.id !== b.id ? compareUtf8(a.id, b.id) < 0 : a.seq < b.seq;
}

/**
 * The lookback rule (fraud: > 3 distinct countries within 10 minutes; also count and sum), incrementally:
 * an event is decided once W >= ts, in (ts, id) order per key; late events within the allowed
 * lateness are evaluated once on arrival; decided events are never re-evaluated (docs/semantics.md).
 */
export class LookbackRuleOperator extends EventTimeOperator {
  private readonly def: RulePipeline;
  private readonly keyFields: readonly string[];
  private readonly users = new Map<string, UserState>();
  private readonly pending = new BinaryHeap<RuleEvent>(before);
  private seq = 0;
  /** Events kept over every key, held against the state budget (pipeline/state-budget.ts). */
  private keptEvents = 0;
  private readonly budget: ReturnType<typeof stateBudgetCells>;
  private lastSweep = Number.NEGATIVE_INFINITY;
  /**
   * Keys whose state changed (events taken, decided or forgotten; the key dropped) since the last
   * `checkpoint`: an incremental checkpoint writes these only. Whole, each transaction of a fraud rule
   * rewrote every key's kept events (3 MiB a transaction at 1,000 transactions/s; docs/benchmarks.md).
   * Undefined until a worker checkpoints incrementally (its first `checkpoint` writes every key, or it
   * restored from one): an operator nobody asks (`concord stream`, the merge stage) would keep every
   * key it ever saw here.
   */
  private touched: Set<string> | undefined;
  /** A `sum` rule over an int or decimal field: summed exactly (a double field sums as doubles). */
  private readonly exactSum: boolean;
  /** Whether the measure slides from one decision to the next (span-measure.ts) or is summed anew (a double sum). */
  private readonly slides: boolean;

  constructor(def: RulePipeline, emitter: Emitter, options: OperatorOptions = {}) {
    super(def, emitter, options);
    this.def = def;
    this.keyFields = [def.key];
    this.exactSum = def.rule.measure === 'sum' && !isFloatingRuleSum(def.rule, def.schema);
    this.slides = SpanMeasure.slides(def.rule.measure, this.exactSum);
    this.budget = stateBudgetCells(def);
    if (options.restore) this.restoreState(options.restore, options.restoreParts);
  }

  snapshot(): OperatorSnapshot {
    return this.head({ seq: this.seq, lastSweep: this.sweptAt(), users: [...this.users.values()].map(userWire) });
  }

  /** The head (seq, last sweep, W) and each key changed since the last call, by key (null: dropped). */
  checkpoint(): OperatorCheckpoint {
    const parts: [string, string | null][] = [];
    for (const key of this.touched ?? this.users.keys()) {
      const user = this.users.get(key);
      parts.push([key, user ? JSON.stringify(userWire(user)) : null]);
    }
    this.touched = new Set();
    return { head: this.head({ seq: this.seq, lastSweep: this.sweptAt(), users: [], inParts: true }), parts };
  }

  private head(state: RuleSnapshot): OperatorSnapshot {
    return { definition: this.version, watermark: this.tracker.snapshot(), state };
  }

  private sweptAt(): number | null {
    return Number.isFinite(this.lastSweep) ? this.lastSweep : null;
  }

  /**
   * From a whole snapshot, or an incremental head with its parts (`parts` given: restored by a worker,
   * which checkpoints incrementally). After a whole one every key is written by the next `checkpoint`
   * (its head holds none), and parts left by an earlier incremental run (before a whole one replaced
   * them) are deleted: restored later with a lean head, they would come back.
   */
  private restoreState(snap: OperatorSnapshot, parts: readonly string[] | undefined): void {
    checkSnapshot(snap, this.version, this.def.name);
    const state = snap.state as RuleSnapshot;
    this.seq = state.seq;
    this.lastSweep = state.lastSweep ?? Number.NEGATIVE_INFINITY;
    const stored = (parts ?? []).map((json) => JSON.parse(json) as UserWire);
    for (const u of state.inParts ? stored : state.users) this.restoreUser(u);
    if (parts === undefined) return;
    this.touched = state.inParts ? new Set() : new Set([...this.users.keys(), ...stored.map((u) => u.key)]);
  }

  private restoreUser(u: UserWire): void {
    const user: UserState = { key: u.key, output: u.output, kept: [], lastDroppedSatisfied: u.lastDroppedSatisfied };
    for (const [ts, id, value, seq, decided, satisfied] of u.kept) {
      const e: RuleEvent = { user, ts, id, value: value ?? undefined, seq, decided, satisfied };
      user.kept.push(e);
      this.keptEvents++;
      if (!decided) this.pending.push(e);
    }
    this.users.set(u.key, user);
  }

  protected accept(event: AnyEvent, position: EventPosition, ts: number, w: number): void {
    const L = this.def.allowedLateness;
    this.changed = true;
    if (isDecided(ts, w) && isBeyondLateness(ts, L, w)) {
      this.emitter.late({ pipeline: this.def.name, event, position, watermark: w });
    } else {
      const key = paneId(this.keyFields, event);
      let user = this.users.get(key);
      if (user === undefined) {
        // Kept for the rule's span: no string may hold the line it was read from (schemas/flat-json.ts).
        user = { key: detached(key), output: detachedValues(keyValuesOf(this.def.schema, this.keyFields, event)), kept: [], lastDroppedSatisfied: false };
        this.users.set(user.key, user);
      }
      const e: RuleEvent = {
        user,
        ts,
        id: detached(String(event[this.def.schema.idField])),
        value: this.def.rule.field === undefined ? undefined : detached(event[this.def.rule.field]),
        seq: this.seq++,
        decided: false,
        satisfied: false,
      };
      const index = this.insert(user, e);
      this.touched?.add(user.key);
      if (isDecided(ts, w)) {
        this.emitter.lateAccepted?.({ pipeline: this.def.name, event, position, watermark: w });
        this.decide(e, index, w, true);
      }
      else this.pending.push(e);
    }
  }

  finish(): void {
    this.onWatermark(this.tracker.finish());
  }

  /**
   * Decides by the tracker's own W, whatever W a caller passes: a decision is final, so it may only
   * happen once no on-time event can still precede it, i.e. by the W that judges this operator's events
   * (a caller's W may be the minimum over other partitions, which an idle partition's own W is behind).
   */
  onWatermark(_w?: number): void {
    const w = this.tracker.current;
    for (let top = this.pending.peek(); top !== undefined && isDecided(top.ts, w); top = this.pending.peek()) {
      this.pending.pop();
      this.decide(top, indexIn(top.user.kept, top), w, false);
    }
    // Forget what no future decision can see: ts <= W - L - span (late events above W - L look back one span).
    // Swept at whole spans of W (a multiple of the span at or below W), not at whichever W a call brings:
    // what is forgotten is then a function of W alone, so an event a merge stage decides far behind W (its
    // partition woke up from idle) sees what reconcile's recomputation, moving W in other steps, keeps.
    const span = this.def.rule.span;
    if (w !== Number.POSITIVE_INFINITY && w - this.lastSweep >= span) {
      this.lastSweep = Math.floor(w / span) * span;
      const horizon = this.lastSweep - this.def.allowedLateness - span;
      for (const user of this.users.values()) this.forget(user, horizon);
    }
  }

  /** Events the rule keeps now (over every key): its state's size. */
  get stateEntries(): number {
    return this.keptEvents;
  }

  private insert(user: UserState, e: RuleEvent): number {
    if (++this.keptEvents > this.budget.cells) throw stateBudgetExceeded(this.def, this.keptEvents, this.budget);
    const kept = user.kept;
    let i = kept.length;
    while (i > 0 && before(e, kept[i - 1]!)) i--;
    kept.splice(i, 0, e);
    user.span?.inserted(i);
    return i;
  }

  private forget(user: UserState, horizon: number): void {
    const kept = user.kept;
    let n = 0;
    while (n < kept.length && kept[n]!.ts <= horizon && kept[n]!.decided) n++;
    if (n > 0) {
      this.changed = true;
      this.touched?.add(user.key);
      user.lastDroppedSatisfied = kept[n - 1]!.satisfied;
      kept.splice(0, n);
      this.keptEvents -= n;
      user.span?.removed(n);
    }
    // Nothing kept and the last event unsatisfied: the same as a key never seen. Kept, every key ever
    // seen stayed in the state and in each checkpoint of it (a card-fraud rule over days: every card).
    // Its part becomes a tombstone (usually marked above already; a key restored with nothing kept was not).
    if (kept.length === 0 && !user.lastDroppedSatisfied) {
      this.users.delete(user.key);
      this.touched?.add(user.key);
    }
  }

  private decide(e: RuleEvent, index: number, w: number, late: boolean): void {
    const kept = e.user.kept;
    const rule = this.def.rule;
    // Everything at or before e in (ts, id) order (exact duplicates included) within the span: kept[lo, hi).
    let hi = index + 1;
    while (hi < kept.length && kept[hi]!.ts === e.ts && kept[hi]!.id === e.id) hi++;
    const lo = firstAfter(kept, e.ts - rule.span, index);
    const { measure, distinct } = this.slides ? (e.user.span ??= new SpanMeasure(rule.measure)).over(kept, lo, hi) : { measure: doubleSum(kept, lo, index, hi), distinct: undefined };
    this.changed = true;
    this.touched?.add(e.user.key);
    e.decided = true;
    e.satisfied = measure > rule.threshold;
    const predecessorSatisfied = index > 0 ? kept[index - 1]!.satisfied : e.user.lastDroppedSatisfied;
    if (e.satisfied && !predecessorSatisfied) {
      const field = rule.field === undefined ? undefined : this.def.schema.fields[rule.field];
      this.emitter.result({
        kind: 'alert',
        pipeline: this.def.name,
        key: e.user.output,
        idField: this.def.schema.idField,
        id: e.id,
        ts: e.ts,
        output: rule.output,
        value: distinct ? distinct().sort(compareValues).map((v) => presentValue(field, v)) : Number(measure) / unitScale(field),
        late,
        watermark: w,
        definitionVersion: this.version,
      });
    }
  }
}

/** Where a kept event is (binary search: `kept` is in `before` order, each event once): indexOf took O(k) a decision. */
function indexIn(kept: readonly RuleEvent[], e: RuleEvent): number {
  let lo = 0;
  let hi = kept.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(kept[mid]!, e)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
