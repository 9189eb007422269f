import type { ArchivedEvent } from '../batch/archive-reader.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { replay } from '../batch/replay.ts';
import type { PipelineDefinition, RulePipeline } from '../pipeline/definition.ts';
import { paneId } from '../pipeline/keys.ts';
import { positionKey, type AlertResult, type EventPosition, type ResultRecord } from '../schemas/results.ts';
import { addedNearAlert, eventsNearAlert, type ArchiveAdded } from './archive-added.ts';
import { archivedIds } from './archived-ids.ts';
import { causeOf, evidenceAttribution, primaryValue, ruleAttribution, sameValueOf, type Attribution, type Evidence } from './attribution.ts';
import { finalResults } from './final-results.ts';
import { misKeyedCells } from './mis-keyed.ts';
import { isDropped, type Cause, type LateEventRef, type LoggedLate, type ReconcileInput } from './reconcile.ts';
import { emptyReport, recordDifference, type ReconcileMetrics, type ReconcileReport } from './reconcile-report.ts';
import { inRange } from './result-range.ts';
import type { RuleDayRead } from './rule-day-reach.ts';
import { reachOf, recomputeRuleKeys, type RuleDayScope } from './rule-recompute.ts';
import { shadowRun } from './shadow-run.ts';
import { quarantinedAt, type HeldCause } from './stream-quarantine.ts';

/**
 * Rules: alerts are few; the diff runs over maps in JS. `day`: a day's reconcile reads the day's reach
 * only (rule-day-reach.ts), and older late events as quiet keys need them. `stream.quarantined`: archived
 * events the stream held for their time (stream-quarantine.ts), left out of what it is re-run over.
 */
export async function reconcileRule(
  db: DuckDb, def: RulePipeline, input: ReconcileInput, evidence: Evidence,
  stream: { logged: readonly LoggedLate[] | undefined; added?: ArchiveAdded | undefined; quarantined: readonly ArchivedEvent[]; heldCause?: HeldCause },
  day?: { read: RuleDayRead; lateBefore?: RuleDayScope['lateBefore']; quarantineBefore?: RuleDayScope['quarantineBefore'] },
): Promise<{ report: ReconcileReport; replayed: ResultRecord[] }> {
  const { logged, added, quarantined } = stream;
  const range = input.range;
  const exclude = (input.dedupe ?? true) ? { exclude: evidence.duplicates.replayExtras } : {};
  const only = day ? { files: day.read.files } : {};
  const replayed = finalResults((await replay(def, input.archiveDir, { db, exactDistinct: false, ...exclude, ...only })).filter((r) => inRange(r, range)));
  // Complete data over every delivery the stream read (no lateness, duplicates counted as the stream
  // counts them; not the events it quarantined, which it never counted). An alert the stream raised
  // exactly as this raises it owes its difference to repeated deliveries alone, whatever late events of
  // its key are near: without this, such cells were blamed on those late events (the proximity
  // attribution below) instead of `duplicate`.
  const held = quarantined.length > 0 ? { exclude: quarantined.map((e) => e.position) } : {};
  const everyDelivery = 'exclude' in exclude && evidence.duplicates.replayExtras.length > 0
    ? finalResults((await replay(def, input.archiveDir, { db, exactDistinct: false, ...only, ...held })).filter((r) => inRange(r, range)))
    : undefined;
  const repeated = new Set(('exclude' in exclude ? evidence.duplicates.replayExtras : []).map(positionKey));
  const realtime = finalResults(input.realtime.filter((r) => inRange(r, range)));
  const read = input.dashboardRead ? finalResults(input.dashboardRead.filter((r) => inRange(r, range))) : undefined;
  let attribute: Attribution, shadow: Map<string, ResultRecord>, lateEvents: number;
  // The verdicts a mis-keyed share is re-run with; without a log the archive is one source (never mis-keyed).
  let verdicts: readonly LoggedLate[] = [];
  // Without the workers' log: the events the shadow run (the stream's semantics) drops as late.
  let droppedByShadow: readonly EventPosition[] = [];
  if (logged) {
    // The workers' log says which events were late, not what they changed: the keys of differing alerts
    // are re-run with the stream's semantics and those verdicts (rule-recompute.ts), and a late cause
    // holds only where that gives the realtime alert (naming the late events near an alert explained
    // differences made by events the stream never read, or by a bug).
    const same = sameValueOf(def);
    const differing = [...new Set([...realtime.keys(), ...replayed.keys()])].flatMap((cell) => {
      const rt = realtime.get(cell), rp = replayed.get(cell);
      return same(rt, rp) ? [] : [(rt ?? rp) as AlertResult];
    });
    const keys = [...new Map(differing.map((a) => [paneId([def.key], a.key), a.key])).values()];
    const scope = day && range ? { range, ...(day.lateBefore ? { lateBefore: day.lateBefore } : {}), ...(day.quarantineBefore ? { quarantineBefore: day.quarantineBefore } : {}) } : undefined;
    const rec = await recomputeRuleKeys(db, def, input.archiveDir, keys, logged, added, scope, quarantined);
    // With the older late events a quiet key's reach needed (rec.logged): its alerts can owe their difference to them.
    const rule = ruleAttribution(
      def, rec.logged.filter(isDropped).map((l) => l.record), rec.logged.filter((l) => l.evaluatedOnArrival).map((l) => l.record), rec.reach,
      rec.logged.filter((l) => !l.evaluatedOnArrival && l.decidedAfterWakeup !== undefined).map((l) => l.record), repeated, rec.quarantined, stream.heldCause,
    );
    const near = added ? addedNearAlert(def, added) : undefined;
    // The workers' late events near an alert are no explanation when the archive lacks the alert's own
    // event (an archive missing what the stream read): without this check such alerts were attributed to
    // late_within_lateness and withdrawn by the published replay.
    const raisedAt = [...realtime].flatMap(([cell, r]) => (r.kind === 'alert' && !same(r, replayed.get(cell)) ? [r.id] : []));
    const archived = await archivedIds(db, def, input.archiveDir, raisedAt, day?.read.dayFiles);
    attribute = (id, rt, rp) => {
      if (rt?.kind === 'alert' && !archived.has(rt.id)) return { cause: 'unexplained', events: [] };
      const judged = rule(id, rt, rp, rec.alerts.get(id));
      if (judged.cause !== 'unexplained' || !near || !rec.withoutAdded || !same(rt, rec.withoutAdded.get(id))) return judged;
      // The stream's alert over what it could read: the events archived later (never read) made the difference.
      const alert = (rt ?? rp) as AlertResult;
      const events = near(alert.key, alert.ts, rec.reach(alert));
      return events.length > 0 ? { cause: 'archive_added', events: [...judged.events, ...events] } : judged;
    };
    shadow = new Map(rec.alerts);
    verdicts = rec.logged;
    lateEvents = logged.filter(isDropped).length;
  } else {
    const run = await shadowRun(db, def, input.archiveDir, quarantinedAt(quarantined));
    // The late events named as with the workers' log: those after the alert's reach.
    const late = new Set([...run.out.lates, ...run.evaluatedLate].map((l) => positionKey(l.position)));
    const reach = reachOf(def, run.arrivals, (e) => !late.has(positionKey(e.position)));
    attribute = ruleAttribution(def, run.out.lates, run.evaluatedLate, reach, [], repeated, quarantined, stream.heldCause);
    shadow = finalResults(run.out.results);
    lateEvents = run.out.lates.length;
    droppedByShadow = run.out.lates.map((l) => l.position);
  }
  const report = emptyReport(def, metricsOf(def, realtime, replayed), lateEvents, evidence, range);
  const sameValue = sameValueOf(def);
  // `duplicate` only where repeated deliveries alone make the difference (the stream's alert is the
  // every-delivery one). The evidence's own test (a repeated delivery of the key, and the realtime alert
  // equal to the shadow) is weaker: when the workers' log had no shadow but the realtime itself, any
  // difference of a key with a repeated delivery anywhere in the day was named `duplicate`, e.g. an alert
  // at an event the stream never read.
  const withDuplicates = evidenceAttribution(def, evidence);
  const withoutDuplicates = evidenceAttribution(def, { ...evidence, duplicates: { ...evidence.duplicates, deliveries: [] } });
  const fallback: typeof withDuplicates = (id, rt, rp, sh) => (everyDelivery && sameValue(rt, everyDelivery.get(id)) ? withDuplicates : withoutDuplicates)(id, rt, rp, sh);
  if (everyDelivery) {
    const byLateness = attribute;
    attribute = (id, rt, rp, sh) => (sameValue(rt, everyDelivery.get(id)) ? { cause: 'unexplained', events: [] } : byLateness(id, rt, rp, sh));
  }
  const cells = new Set([...replayed.keys(), ...realtime.keys()]);
  const judged: { id: string; rt?: ResultRecord | undefined; rp?: ResultRecord | undefined; cause: Cause; events: LateEventRef[] }[] = [];
  // Alert order (ids start with the key), as the windows' report orders by window then key.
  for (const id of [...cells].sort((a, b) => parseFloat(a) - parseFloat(b) || (a < b ? -1 : a > b ? 1 : 0))) {
    report.cells++;
    const rt = realtime.get(id), rp = replayed.get(id), sh = shadow.get(id);
    if (sameValue(rt, rp)) {
      const shown = read?.get(id);
      if (shown !== undefined && !sameValue(shown, rt)) judged.push({ id, rt: shown, rp, cause: 'update_after_read', events: [] });
      else report.equal++;
      continue;
    }
    judged.push({ id, rt, rp, ...causeOf(attribute, fallback, id, rt, rp, sh) });
  }
  // Last, over what is left unexplained: alerts raised (or not) from one partition's share of a key whose events lie in several.
  const unread = [...(logged ?? []).filter(isDropped).map((l) => l.record.position), ...quarantined.map((e) => e.position)];
  const misKeyed = await misKeyedCells(db, def, input.archiveDir, judged.filter((j) => j.cause === 'unexplained'), { ...only, exclude: unread, ruleVerdicts: verdicts });
  // A duplicate's evidence: the key's repeated deliveries the stream counted (not those it dropped as
  // late or quarantined), within the rule's span up to the alert, as windows list a cell's.
  const uncounted = new Set([...unread, ...droppedByShadow].map(positionKey));
  const repeats = eventsNearAlert(def, 'exclude' in exclude ? evidence.duplicates.deliveries.filter((d) => !uncounted.has(positionKey(d.position))) : []);
  for (const { id, rt, rp, cause, events } of judged) {
    const partitions = cause === 'unexplained' ? misKeyed.get(id) : undefined;
    const alert = (rt ?? rp) as AlertResult;
    const repeated = cause === 'duplicate' ? repeats(alert.key, alert.ts, alert.ts - def.rule.span) : undefined;
    recordDifference(report, rt, rp, partitions ? 'mis_keyed' : cause, events, partitions, repeated);
  }
  report.unexplained = report.causes.unexplained;
  return { report, replayed: [...replayed.values()] };
}

/** cell-diff.ts's metrics (computed there in SQL for windows), over the alert maps. */
function metricsOf(def: PipelineDefinition, realtime: Map<string, ResultRecord>, replayed: Map<string, ResultRecord>): ReconcileMetrics {
  const sameValue = sameValueOf(def);
  let mismatched = 0, missing = 0, extra = 0, absolute = 0, total = 0;
  const cells = new Set([...realtime.keys(), ...replayed.keys()]);
  for (const id of cells) {
    const rt = realtime.get(id), rp = replayed.get(id);
    if (!rt) missing++;
    else if (!rp) extra++;
    else if (!sameValue(rt, rp)) mismatched++;
    const a = primaryValue(def, rt), b = primaryValue(def, rp);
    absolute += Math.abs(a - b);
    total += a + b;
  }
  return {
    realtime_cells: realtime.size, replay_cells: replayed.size, mismatched, missing, extra,
    mismatch_rate: cells.size === 0 ? 0 : (mismatched + missing + extra) / cells.size,
    smape: total === 0 ? 0 : absolute / total,
  };
}
