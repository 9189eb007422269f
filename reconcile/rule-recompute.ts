import { readArrivalOrder, type ArchivedEvent } from '../batch/archive-reader.ts';
import { quoteIdent, type DuckDb } from '../batch/duckdb.ts';
import { fieldsRead, type RulePipeline } from '../pipeline/definition.ts';
import { ConcordError } from '../pipeline/errors.ts';
import { compileFilter } from '../pipeline/filter.ts';
import { eventPaneIdOf, paneId, type KeyValues } from '../pipeline/keys.ts';
import { compareUtf8 } from '../pipeline/ordering.ts';
import { positionKey, type AlertResult, type ResultRecord } from '../schemas/results.ts';
import { CollectingEmitter, createOperator } from '../stream/operators/index.ts';
import { CanonicalClock } from '../stream/rule-merge-tracker.ts';
import { compareCanonical } from '../stream/rule-merge.ts';
import type { ArchiveAdded } from './archive-added.ts';
import { finalResults } from './final-results.ts';
import type { LoggedLate } from './reconcile.ts';
import { planRuleDay } from './rule-day-reach.ts';
import { quarantinedAt } from './stream-quarantine.ts';

/**
 * Store mode's proof for rule alerts (reconcile-rule.ts): the stream's own rule operator re-run over the
 * archived events of the keys whose alerts differ, with the workers' logged verdicts. A late cause is
 * named only where this gives the realtime alert (the workers' log alone says which events were late,
 * not what they changed; naming whatever late event was near an alert explained differences that an
 * event the stream never read, or a bug, made).
 *
 * Why it is the stream's result (lookback-rule.ts; docs/semantics.md, "Rules" and "Rules in the merge
 * stage"), per key:
 * - an event logged as dropped (beyond L) was never counted: left out;
 * - an event logged as evaluated on arrival met the W its record carries. The key's events kept then are
 *   every on-time event with ts <= W (each arrived while W was below its ts, so before this one) and the
 *   events evaluated on arrival before it. Arrival order matters among those only, and it is the canonical
 *   order (W met, partition, offset): a partition's W only grows along its offsets (a rule keyed by the
 *   partition key runs per partition), and the merge stage feeds its one operator in that order (a rule
 *   keyed by another field);
 * - any other archived event was on time: decided once W >= ts, against the on-time events before it and
 *   the events evaluated on arrival at a W below its ts (they arrived before it was decided).
 * So one operator over the keys, on a clock: the on-time events first, undecided (W = -infinity); then each
 * event evaluated on arrival, in the canonical order, the clock moved to its W first (deciding what that
 * makes due); then W = +infinity. The operator forgets only what no event within L can see, so the
 * result does not depend on sweeps within L. An event the merge stage fed out of the canonical order (its
 * partition woke up from idle behind the merge: processing time placed it) is logged by the merge with the
 * clock it came at and its rank (`decidedAfterWakeup`): fed there, judged by its worker's W, and an on-time
 * one decided at once (`fedBefore`); the operator sweeps at whole spans of W, so what such an event sees,
 * beyond L too, does not depend on the steps the clock moved in.
 */
export interface RuleRecomputation {
  /** The recomputed alerts of the keys, by cell; archive-added events counted as on time (as replay counts them). */
  readonly alerts: ReadonlyMap<string, ResultRecord>;
  /** The same without the archive-added events (what the stream could have read); undefined when none is of these keys. */
  readonly withoutAdded: ReadonlyMap<string, ResultRecord> | undefined;
  /**
   * The event time above which a late (or added) event can change the alert at `alert`'s event, in the
   * stream or in the replay: one span before the earliest event that can be its predecessor. An alert at
   * t depends on M(t) (one span back) and its predecessor's status (one span before the predecessor).
   * The stream's predecessor is at or after the key's last on-time event before t (on-time events are
   * kept by every decision), the replay's is the last event before t.
   */
  reach(alert: AlertResult): number;
  /** The late log it used: the one given, and the older entries a quiet key's reach needed (`RuleDayScope`). */
  readonly logged: readonly LoggedLate[];
  /** The quarantined events it left out: the ones given, and the older ones a quiet key's reach needed. */
  readonly quarantined: readonly ArchivedEvent[];
}

/**
 * A day's recomputation reads the keys' reach only (rule-day-reach.ts) instead of the whole archive. The
 * stream's predecessor of a key's first alert of the day is at or after the key's last event before the
 * day that every decision kept (not logged late, not archive-added): each key's reach is that event's span.
 */
export interface RuleDayScope {
  readonly range: { readonly from: number; readonly to: number };
  /** The given log holds every logged late event with ts >= `from`; `load(a, b)` gives those with a <= ts < b. */
  readonly lateBefore?: { readonly from: number; load(from: number, to: number): Promise<readonly LoggedLate[]> };
  /** Likewise the archived events the stream quarantined: those given hold every one with ts >= `from`. */
  readonly quarantineBefore?: { readonly from: number; load(from: number, to: number): Promise<readonly ArchivedEvent[]> };
}

export async function recomputeRuleKeys(
  db: DuckDb, def: RulePipeline, dir: string, keys: readonly KeyValues[], given: readonly LoggedLate[], added: ArchiveAdded | undefined, day?: RuleDayScope,
  /** Archived events the stream quarantined (stream-quarantine.ts): never fed to it, so not re-run here. */
  quarantined: readonly ArchivedEvent[] = [],
): Promise<RuleRecomputation> {
  let logged = given, held = quarantined, events: ArchivedEvent[] = [];
  if (keys.length > 0) {
    const where = await narrowToKeys(db, def, keys);
    try {
      let files: readonly string[] | undefined;
      if (day) ({ logged, quarantined: held, files } = await keysReach(db, def, dir, keys, where, given, added, day, quarantined));
      const isHeld = quarantinedAt(held);
      events = (await readKeysEvents(db, def, dir, keys, where, files)).filter((e) => !isHeld(e.position));
    } finally {
      await db.run('DROP TABLE IF EXISTS recompute_keys');
      await db.run('DROP TABLE IF EXISTS recompute_not_last');
    }
  }
  const verdicts = new Map(logged.map((l) => [positionKey(l.record.position), l]));
  const addedAt = new Set(added?.events.map((e) => positionKey(e.position)) ?? []);
  const read = events.filter((e) => !addedAt.has(positionKey(e.position)));
  return {
    alerts: runWithVerdicts(def, events, verdicts),
    withoutAdded: read.length < events.length ? runWithVerdicts(def, read, verdicts) : undefined,
    reach: reachOf(def, events, (e) => !verdicts.has(positionKey(e.position)) && !addedAt.has(positionKey(e.position))),
    logged,
    quarantined: held,
  };
}

/**
 * The files holding the keys' reach for the day, in the stream's view: their last events before the day
 * that no logged verdict, added file or quarantine touches, and the hours of the logged and added events
 * themselves (the stream evaluated some of them). A reach before the log given loads the older log and
 * looks again (an older event logged late is no such last event), and so for the older quarantined
 * events. A quarantined event the stream never read: with it taken for the last, the kept event before it
 * (the stream's predecessor) was not read.
 */
async function keysReach(
  db: DuckDb, def: RulePipeline, dir: string, keys: readonly KeyValues[], keysWhere: string | undefined, given: readonly LoggedLate[], added: ArchiveAdded | undefined, day: RuleDayScope,
  quarantined: readonly ArchivedEvent[],
): Promise<{ logged: readonly LoggedLate[]; quarantined: readonly ArchivedEvent[]; files: readonly string[] }> {
  const wanted = new Set(keys.map((k) => paneId([def.key], k)));
  const eventPane = eventPaneIdOf(def.schema, [def.key]);
  let logged = given, loadedFrom = day.lateBefore?.from ?? Number.NEGATIVE_INFINITY;
  let held = quarantined, heldFrom = day.quarantineBefore?.from ?? Number.NEGATIVE_INFINITY;
  for (;;) {
    const others = [...logged.map((l) => ({ event: l.record.event, position: l.record.position })), ...(added?.events ?? [])];
    const notLast = [...others, ...held].map((e) => e.position);
    await db.createTableFromColumns('recompute_not_last_rows', [
      { name: '_source', type: 'VARCHAR', values: notLast.map((p) => p.source) },
      { name: '_offset', type: 'DOUBLE', values: notLast.map((p) => p.offset) },
    ]);
    await db.run('CREATE OR REPLACE TEMP TABLE recompute_not_last AS SELECT _source, _offset::BIGINT AS _offset FROM recompute_not_last_rows');
    await db.run('DROP TABLE recompute_not_last_rows');
    const alsoAt = others.filter((e) => wanted.has(eventPane(e.event))).map((e) => e.event[def.schema.timeField] as number).filter((t) => t < day.range.to);
    const read = await planRuleDay(db, def, dir, day.range, { ...(keysWhere ? { keysWhere } : {}), notLast: 'recompute_not_last', alsoAt });
    const olderLog = day.lateBefore && read.from < loadedFrom, olderHeld = day.quarantineBefore && read.from < heldFrom;
    if (!olderLog && !olderHeld) return { logged, quarantined: held, files: read.files };
    if (olderLog) logged = [...(await day.lateBefore!.load(read.from, loadedFrom)), ...logged];
    if (olderHeld) held = [...(await day.quarantineBefore!.load(read.from, heldFrom)), ...held];
    loadedFrom = Math.min(loadedFrom, read.from);
    heldFrom = Math.min(heldFrom, read.from);
  }
}

/**
 * SQL keeping the archive's rows of `keys` (table `recompute_keys`), where DuckDB's text of the key column
 * is the key's own (string, int, bool); undefined: every row (other kinds read as text differently).
 */
export async function narrowToKeys(db: DuckDb, def: RulePipeline, keys: readonly KeyValues[]): Promise<string | undefined> {
  const kind = def.schema.fields[def.key]?.kind;
  if (kind === undefined) throw new ConcordError(`${def.name}: key field ${def.key} is not in schema ${def.schema.name}`, { domain: 'internal' });
  if (kind !== 'string' && kind !== 'int' && kind !== 'bool') return undefined;
  const values = [...new Set(keys.flatMap((k) => (k[def.key] === null ? [] : [String(k[def.key])])))];
  await db.createTableFromColumns('recompute_keys', [{ name: 'k', type: 'VARCHAR', values }]);
  const col = quoteIdent(def.key);
  return `(CAST(${col} AS VARCHAR) IN (SELECT k FROM recompute_keys)${keys.some((k) => k[def.key] === null) ? ` OR ${col} IS NULL` : ''})`;
}

/** The archived events of `keys` only (of `files`, default all): DuckDB narrows by `where`; JS decides exactly. */
export async function readKeysEvents(db: DuckDb, def: RulePipeline, dir: string, keys: readonly KeyValues[], where: string | undefined, files?: readonly string[]): Promise<ArchivedEvent[]> {
  const wanted = new Set(keys.map((k) => paneId([def.key], k)));
  const eventPane = eventPaneIdOf(def.schema, [def.key]);
  const fields = [...new Set([...fieldsRead(def), def.key, def.schema.idField, def.schema.timeField])];
  const events = await readArrivalOrder(dir, def.schema, { db, fields, ...(where ? { where } : {}), ...(files ? { files } : {}) });
  return events.filter((e) => wanted.has(eventPane(e.event)));
}

/**
 * Each source's partition number in the canonical order: a Kafka source's (`topic:partition`) own number;
 * other sources (files) numbered in text order after them.
 */
function partitionNumbers(sources: Iterable<string>): Map<string, number> {
  const numbers = new Map<string, number>();
  const others: string[] = [];
  for (const s of new Set(sources)) {
    const kafka = /:(\d+)$/.exec(s);
    if (kafka) numbers.set(s, Number(kafka[1]));
    else others.push(s);
  }
  const next = Math.max(-1, ...numbers.values()) + 1;
  others.sort().forEach((s, i) => numbers.set(s, next + i));
  return numbers;
}

/** An event fed after the on-time ones, at `w`: evaluated on arrival (rank 1), or fed out of the canonical order by the merge (rank 0). */
interface FedLater {
  readonly e: ArchivedEvent;
  readonly w: number;
  readonly verdict: number;
  readonly rank: 0 | 1;
  readonly order: number;
  readonly partition: number;
}

/**
 * The order the stream fed them in. An event the merge fed out of the canonical order came when its clock
 * stood at `at`: after every event evaluated on arrival at a W below it (released as the clock got there),
 * before those at `at` and above (a partition that is not idle sends none below the merged W any more),
 * and after the ones fed out of order before it (`order`).
 */
function fedBefore(a: FedLater, b: FedLater): number {
  if (a.w !== b.w) return a.w < b.w ? -1 : 1;
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.rank === 0) return a.order - b.order;
  return compareCanonical({ sourceWatermark: a.w, partition: a.partition, offset: a.e.position.offset }, { sourceWatermark: b.w, partition: b.partition, offset: b.e.position.offset });
}

/** The stream's rule operator over `events` with the logged verdicts (by position), as the class comment says: the final alerts by cell. */
export function runWithVerdicts(def: RulePipeline, events: readonly ArchivedEvent[], verdicts: ReadonlyMap<string, LoggedLate>): Map<string, ResultRecord> {
  const out = new CollectingEmitter();
  const clock = new CanonicalClock(def.watermark.maxOutOfOrderness);
  const op = createOperator(def, out, { tracker: clock });
  const later: { e: ArchivedEvent; v: LoggedLate }[] = [];
  for (const e of events) {
    const v = verdicts.get(positionKey(e.position));
    if (v === undefined) op.process(e.event, e.position); // on time: kept, decided as the clock passes it
    else if (v.evaluatedOnArrival || v.decidedAfterWakeup) later.push({ e, v });
  }
  const partition = partitionNumbers(later.map(({ e }) => e.position.source));
  const placed: FedLater[] = later.map(({ e, v }) => {
    const woke = v.decidedAfterWakeup;
    return { e, w: woke ? woke.at : v.record.watermark, verdict: v.record.watermark, rank: woke ? 0 : 1, order: woke?.order ?? 0, partition: partition.get(e.position.source)! };
  });
  placed.sort(fedBefore);
  for (const { e, w, verdict } of placed) {
    // As the merge stage feeds a released event: the clock moved first (deciding what that makes due),
    // the event judged by its worker's W; one on time the clock has passed is then decided at once.
    clock.advanceTo(w);
    op.onWatermark(w);
    clock.judgeNextAt(verdict);
    try {
      op.process(e.event, e.position);
    } finally {
      clock.judgeNextAt(undefined);
    }
  }
  op.finish();
  return finalResults(out.results);
}

/**
 * RuleRecomputation.reach over `events` (a key's archived events, any order); `keptByAll`: an event every
 * decision after it keeps (on time, and read by the stream). The shadow run's naming uses it too.
 */
export function reachOf(def: RulePipeline, events: readonly ArchivedEvent[], keptByAll: (e: ArchivedEvent) => boolean): (alert: AlertResult) => number {
  const { timeField, idField } = def.schema;
  const keep = compileFilter(def.where);
  const eventPane = eventPaneIdOf(def.schema, [def.key]);
  // Per key, in (ts, id) order: time, id, and the index of the last on-time event up to here (-1: none).
  const byKey = new Map<string, { ts: number; id: string; onTime: boolean; lastOnTime: number }[]>();
  for (const e of events) {
    if (keep && !keep(e.event)) continue;
    const key = eventPane(e.event);
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push({ ts: e.event[timeField] as number, id: String(e.event[idField]), onTime: keptByAll(e), lastOnTime: -1 });
  }
  for (const list of byKey.values()) {
    list.sort((a, b) => a.ts - b.ts || compareUtf8(a.id, b.id));
    list.forEach((x, i) => (x.lastOnTime = x.onTime ? i : i > 0 ? list[i - 1]!.lastOnTime : -1));
  }
  const span = def.rule.span;
  return (alert) => {
    const list = byKey.get(paneId([def.key], alert.key)) ?? [];
    // How many of the key's events are before (alert.ts, alert.id).
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1, x = list[mid]!;
      if (x.ts < alert.ts || (x.ts === alert.ts && compareUtf8(x.id, alert.id) < 0)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return alert.ts - span;
    const last = list[lo - 1]!.lastOnTime;
    // No on-time event before it: any earlier event may be the stream's predecessor.
    return (last >= 0 ? list[last]!.ts : list[0]!.ts) - span;
  };
}
