/**
 * Why a differing cell differs: late events by the cells (windows) or alerts (rule keys) they changed,
 * then the archive's own evidence (duplicates, rejected records, gaps). Each cause holds only when the
 * realtime value equals what the stream should have produced without those events (the shadow).
 */
import type { ArchivedEvent } from '../batch/archive-reader.ts';
import { sameNumber } from '../pipeline/aggregates.ts';
import type { PipelineDefinition, WindowedPipeline } from '../pipeline/definition.ts';
import { eventPaneIdOf, eventWindowCellId, paneId } from '../pipeline/keys.ts';
import { floatingOutputs, sameValuesOf } from '../pipeline/same-values.ts';
import { isoMillis } from '../pipeline/time.ts';
import { assignWindows, windowEnd } from '../pipeline/windows.ts';
import { positionKey, type AlertResult, type LateRecord, type ResultRecord } from '../schemas/results.ts';
import { normaliseValue, parseIsoTimestamp } from '../schemas/schema.ts';
import { endsInZoneAbbreviation } from '../schemas/time-zone-abbreviations.ts';
import { addedRef } from './archive-added.ts';
import type { Duplicates, RejectedRecord } from './evidence.ts';
import type { Cause, LateEventRef, LoggedLate } from './reconcile.ts';
import type { HeldCause } from './stream-quarantine.ts';

/** What the archive says about itself, gathered once (see evidence.ts). */
export interface Evidence {
  readonly duplicates: Duplicates;
  readonly rejected: readonly RejectedRecord[];
  readonly gaps: ReadonlyMap<string, number>;
}

/**
 * Every window a logged late event skipped: all of its windows (it was late for each; the record names
 * the last one, as Flink's side output does). One window unless hopping.
 */
export function windowsSkippedBy(def: WindowedPipeline, l: LoggedLate): LateRecord[] {
  if (l.evaluatedOnArrival || def.window.kind !== 'hopping') return [l.record];
  return assignWindows(def.window, l.record.event[def.schema.timeField] as number).map((start) => ({ ...l.record, windowStart: start, windowEnd: windowEnd(def.window, start) }));
}

/** The cause of a cell whose realtime and replayed values differ: lateness first, then the archive's evidence. */
export function causeOf(attribute: Attribution, fallback: ReturnType<typeof evidenceAttribution>, id: string, rt?: ResultRecord, rp?: ResultRecord, sh?: ResultRecord) {
  let { cause, events } = attribute(id, rt, rp, sh);
  if (cause === 'unexplained' || (cause === 'late_beyond_lateness' && events.length === 0)) {
    const evidence = fallback(id, rt, rp, sh);
    if (evidence) cause = evidence;
  }
  return { cause, events };
}

export function primaryValue(def: PipelineDefinition, r: ResultRecord | undefined): number {
  if (r === undefined) return 0;
  if (r.kind === 'alert') return 1;
  const first = def.kind === 'windowed' ? def.aggregates[0]?.output : undefined;
  return first === undefined ? 0 : Number(r.values[first] ?? 0);
}

/**
 * For differences the lateness rules do not explain: the archive's own evidence. A cell holding a
 * repeated delivery whose realtime value is what the stream computes over every delivery is a
 * `duplicate`. The other two apply only when the realtime value is above the replay's and is NOT what
 * the stream semantics give over the archived events (so the stream saw records the archive lacks),
 * by no more than the records there is evidence for: rejected records of the cell (`parse_reject`:
 * the stream accepted what the archive rejected, e.g. another schema version) or offsets the archive
 * misses (`archive_gap`). Otherwise nothing: unexplained.
 */
export function evidenceAttribution(def: PipelineDefinition, evidence: Evidence): (id: string, rt?: ResultRecord, rp?: ResultRecord, sh?: ResultRecord) => Cause | undefined {
  const { rejected, gaps } = evidence;
  const duplicates = evidence.duplicates.deliveries;
  // Events as archived (normalised: decimals in minor units), named by the cells of their results.
  const keyFields = def.kind === 'windowed' ? def.key : [def.key];
  const eventPane = eventPaneIdOf(def.schema, keyFields);
  const cellsOf = (event: Record<string, unknown>): string[] => {
    const ts = typeof event[def.schema.timeField] === 'number' ? (event[def.schema.timeField] as number) : textTime(String(event[def.schema.timeField]));
    if (!Number.isFinite(ts)) return [];
    if (def.kind === 'windowed') return assignWindows(def.window, ts).map((start) => eventWindowCellId(def.schema, start, def.key, event));
    return [`key:${eventPane(event)}`];
  };
  // A rejected record's time as text: as events are read (a time without a zone in the schema's
  // `time_zone`, not the machine's), else as leniently as Date reads it, but for a time ending in a zone
  // abbreviation: no runtime reads one ("10:00 EST" is Date's -05:00 all year), so it is in no cell.
  const textTime = (text: string): number => {
    try {
      return parseIsoTimestamp(text, def.schema.timeField, def.schema.timeZone);
    } catch {
      return endsInZoneAbbreviation(text) ? Number.NaN : Date.parse(text);
    }
  };
  // A rejected record is raw input (decimals in major units, times as text): its key normalised as an
  // archived event's, field by field where it can be.
  const normalisedKey = (loose: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...loose };
    for (const k of keyFields) {
      const f = def.schema.fields[k], v = loose[k];
      if (f && v !== null && v !== undefined) {
        try {
          out[k] = normaliseValue(f, v, k, def.schema.epochUnit, def.schema.timeZone);
        } catch {
          // not a value of the field: left as it came
        }
      }
    }
    return out;
  };
  const dupCells = new Set<string>();
  for (const a of duplicates) cellsOf(a.event).forEach((c) => dupCells.add(c));
  const rejectedCells = new Map<string, number>(), quarantinedCells = new Map<string, number>();
  for (const r of rejected) {
    const into = r.reason === 'future_timestamp' ? quarantinedCells : rejectedCells;
    if (r.loose) cellsOf(normalisedKey(r.loose)).forEach((c) => into.set(c, (into.get(c) ?? 0) + 1));
  }
  const missingOffsets = [...gaps.values()].reduce((a, b) => a + b, 0);
  const sameValue = sameValueOf(def);
  return (id, rt, rp, sh) => {
    const cell = def.kind === 'windowed' ? id : `key:${paneId([def.key], ((rt ?? rp) as AlertResult).key)}`;
    if (dupCells.has(cell) && sameValue(rt, sh)) return 'duplicate';
    const excess = primaryValue(def, rt) - primaryValue(def, rp);
    if (excess <= 0 || sameValue(rt, sh)) return undefined;
    if (excess <= (quarantinedCells.get(cell) ?? 0)) return 'future_timestamp';
    if (excess <= (rejectedCells.get(cell) ?? 0)) return 'parse_reject';
    if (excess <= missingOffsets) return 'archive_gap';
    return undefined;
  };
}

export type Attribution = (id: string, rt?: ResultRecord, rp?: ResultRecord, sh?: ResultRecord) => { cause: Cause; events: LateEventRef[] };

function lateRef(l: LateRecord, def: PipelineDefinition): LateEventRef {
  return {
    id: String(l.event[def.schema.idField]),
    ts: isoMillis(l.event[def.schema.timeField] as number),
    source: l.position.source,
    offset: l.position.offset,
    watermark: isoMillis(l.watermark),
  };
}

/**
 * `quarantined`: archived events the stream held for their time (stream-quarantine.ts). The shadow left
 * them out, so a cell whose realtime value is the shadow's and that holds such events differs by them:
 * `future_timestamp` (after lateness, which a cell late events also changed is named after).
 */
export function windowAttribution(
  def: Extract<PipelineDefinition, { kind: 'windowed' }>, skips: readonly LateRecord[], quarantined: readonly ArchivedEvent[] = [], heldCause: HeldCause = () => 'future_timestamp',
): Attribution {
  // Late events by the cells that skipped them (a hopping event can be late for some of its windows only).
  const byCell = new Map<string, LateEventRef[]>();
  for (const l of skips) {
    const id = eventWindowCellId(def.schema, l.windowStart!, def.key, l.event);
    let list = byCell.get(id);
    if (!list) byCell.set(id, (list = []));
    list.push(lateRef(l, def));
  }
  // In arrival order per source, however the skips were gathered (whole-late and per-window ones apart).
  for (const list of byCell.values()) list.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.offset - b.offset));
  const heldByCell = new Map<string, LateEventRef[]>();
  for (const e of quarantined) {
    for (const start of assignWindows(def.window, e.event[def.schema.timeField] as number)) {
      const id = eventWindowCellId(def.schema, start, def.key, e.event);
      let list = heldByCell.get(id);
      if (!list) heldByCell.set(id, (list = []));
      list.push(addedRef(def, e));
    }
  }
  const sameValue = sameValueOf(def);
  return (id, rt, _rp, sh) => {
    const events = byCell.get(id) ?? [], held = heldByCell.get(id) ?? [];
    if (!sameValue(rt, sh)) return { cause: rt === undefined && sh !== undefined ? 'missing_window' : 'unexplained', events };
    if (events.length > 0) return { cause: 'late_beyond_lateness', events: [...events, ...held] };
    return held.length > 0 ? { cause: heldCause(held), events: held } : { cause: 'unexplained', events };
  };
}

/**
 * `reach` (rule-recompute.ts): the event time above which a late event can change an alert, from its
 * key's events (store mode: over the day's reach; without a log: over the shadow run), however far back
 * the alert's predecessor is.
 */
export function ruleAttribution(
  def: Extract<PipelineDefinition, { kind: 'rule' }>,
  dropped: readonly LateRecord[],
  evaluatedLate: readonly LateRecord[],
  reach: (alert: AlertResult) => number,
  /** On-time events a merge stage decided at once after their partition woke up from idle behind it. */
  wokenUp: readonly LateRecord[] = [],
  /** Positions (`positionKey`) of the repeated deliveries the deduplicating replay leaves out. */
  repeated: ReadonlySet<string> = new Set(),
  /** Archived events the stream quarantined for their time (stream-quarantine.ts): the shadow left them out. */
  quarantined: readonly ArchivedEvent[] = [],
  /** Which cause such events make: stream-quarantine.ts `heldCauseOf`. */
  heldCause: HeldCause = () => 'future_timestamp',
): Attribution {
  type Kind = 'dropped' | 'evaluated' | 'woken';
  const lateByKey = new Map<string, { ref: LateEventRef; ts: number; kind: Kind; repeat: boolean }[]>();
  const eventPane = eventPaneIdOf(def.schema, [def.key]);
  const add = (l: LateRecord, kind: Kind) => {
    const key = eventPane(l.event);
    let list = lateByKey.get(key);
    if (!list) lateByKey.set(key, (list = []));
    list.push({ ref: lateRef(l, def), ts: l.event[def.schema.timeField] as number, kind, repeat: repeated.has(positionKey(l.position)) });
  };
  dropped.forEach((l) => add(l, 'dropped'));
  evaluatedLate.forEach((l) => add(l, 'evaluated'));
  wokenUp.forEach((l) => add(l, 'woken'));
  const held = new Map<string, { ref: LateEventRef; ts: number }[]>();
  for (const e of quarantined) {
    const key = eventPane(e.event);
    let list = held.get(key);
    if (!list) held.set(key, (list = []));
    list.push({ ref: addedRef(def, e), ts: e.event[def.schema.timeField] as number });
  }
  const sameValue = sameValueOf(def);
  return (_id, rt, rp, sh) => {
    const alert = (rt ?? rp) as AlertResult;
    const candidates = lateByKey.get(paneId([def.key], alert.key)) ?? [];
    // A late event changes C(t) for t within one span after it, and a changed status changes the next
    // event's alert: so every late event after one span before the earliest possible predecessor.
    const from = reach(alert);
    const near = candidates.filter((c) => c.ts <= alert.ts && c.ts > from);
    // A repeated delivery the stream judged late is no cause: the deduplicated replay leaves it out too.
    // With only such late events near, what the stream reproduces differs by repeated deliveries alone.
    const chain = near.filter((c) => !c.repeat);
    const events = chain.map((c) => c.ref);
    if (!sameValue(rt, sh)) return { cause: 'unexplained', events };
    // Events the stream never counted (quarantined) can change the alert as a late one does.
    const heldNear = (held.get(paneId([def.key], alert.key)) ?? []).filter((c) => c.ts <= alert.ts && c.ts > from).map((c) => c.ref);
    if (chain.length === 0 && heldNear.length > 0) return { cause: heldCause(heldNear), events: heldNear };
    if (chain.length === 0) return { cause: near.length > 0 ? 'duplicate' : 'unexplained', events };
    // A late event is named before an on-time one fed out of order: it would have changed the alert
    // however the partitions' idleness went.
    const cause = chain.some((c) => c.kind === 'dropped') ? 'late_beyond_lateness' : chain.some((c) => c.kind === 'evaluated') ? 'late_within_lateness' : 'idle_wakeup';
    return { cause, events };
  };
}

export function valuesOf(r: ResultRecord): Record<string, unknown> {
  return r.kind === 'window' ? r.values : { [r.output]: r.value };
}

/** Compares two results of one pipeline: the same numbers, or not. */
export type SameValue = (a?: ResultRecord, b?: ResultRecord) => boolean;

/**
 * Same numbers for `def`'s results (windows: every output; alerts: the same distinct values or measure),
 * `double` sums and averages within FLOAT_TOLERANCE as in the SQL diff (cell-diff.ts) and the store
 * (pipeline/same-values.ts).
 */
export function sameValueOf(def: PipelineDefinition): SameValue {
  const floating = floatingOutputs(def);
  const sameValues = sameValuesOf(def);
  return (a, b) => {
    if (a === undefined || b === undefined) return a === b;
    if (a.kind === 'window' && b.kind === 'window') return sameValues(a.values, b.values);
    if (a.kind === 'alert' && b.kind === 'alert') {
      const x = a.value, y = b.value;
      if (typeof x === 'number' || typeof y === 'number') return typeof x === 'number' && typeof y === 'number' && sameNumber(x, y, floating.has(a.output));
      return x.length === y.length && x.every((v, i) => v === y[i]);
    }
    return false;
  };
}
