import { corruptFilesIn, CorruptArchiveDayError } from '../batch/archive-check.ts';
import { replay } from '../batch/replay.ts';
import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import type { KeyValues } from '../pipeline/keys.ts';
import type { ResultRecord } from '../schemas/results.ts';
import type { DayReconciliation } from './day-report.ts';
import type { ReconcileReport } from './reconcile-report.ts';
import { prepareReportDir, writeReport } from './report-files.ts';
import { archiveFilesWrittenSince, archiveHoldsDay, eventTimesOfDay } from './archive-changes.ts';
import { finalResults } from './final-results.ts';
import { reconcileWithReplay, type LoggedLate } from './reconcile.ts';
import { dayRange } from './day-range.ts';
import { inRange } from './result-range.ts';
import { lateEventsOfDay, ruleLateEventsBetween } from './late-events-of-day.ts';
import { replayRuleDay } from './rule-day-replay.ts';
import { noArchivedDay } from './no-archived-day.ts';
import { DayRecomputedError, DefinitionChangedError, NoRealtimeRowsError, UnexplainedDifferencesError } from './day-errors.ts';
import type { BackfillRequest } from './backfill-day.ts';
import type { StreamQuarantine } from './stream-quarantine.ts';
import { whyNoStreamRows, type StreamCoverageStore } from './stream-coverage.ts';

export { dayRange } from './day-range.ts';
export { DayRecomputedError, DefinitionChangedError, NoRealtimeRowsError, UnexplainedDifferencesError } from './day-errors.ts';
export { NoArchivedDayError } from './no-archived-day.ts';
export { reportPath, reportWritten } from './report-files.ts';
export { backfillDay, detectArchiveChanges, revertedDayMessage, type BackfillRequest, type BackfillSummary } from './backfill-day.ts';

/** A cell a late event touched after its day was reconciled: recomputed by a backfill. */
export interface DirtyCell {
  readonly pipeline: string;
  /** Window start (alerts: the alert's event ts; 0 with `key` = the rule key to redo the key's day). */
  readonly windowStart: number;
  readonly key: KeyValues;
  /** When the store marked it (a cell marked again after a backfill read it stays dirty for the next). */
  readonly recordedAt?: number;
}

/**
 * What reconciliation and backfill need from the result store (the store implements it; see
 * store/). Kept this small so reconcile/ depends on a port, not on a database.
 */
export interface ReconcileStore extends StreamCoverageStore {
  /** The stream's own rows of a day (realtime and late-update, every revision or the latest). */
  realtimeResults(pipeline: string, date: string): Promise<ResultRecord[]>;
  /** Late events the workers recorded for the day's cells (`concord.late`, as ingested). */
  lateEvents(pipeline: string, date: string): Promise<LoggedLate[]>;
  /**
   * The events of input schema `schema` with from <= event time < to that the stream quarantined for a
   * time too far from their reference (its dead letters, reason `future_timestamp` or `past_horizon`), or refused for a
   * field (`rejected`: the reason; an archive made again under an alias may hold them).
   */
  quarantinedEvents(schema: string, from: number, to: number): Promise<StreamQuarantine[]>;
  /** What readers saw at `instant` (history), for `update_after_read`. */
  asOf(pipeline: string, date: string, instant: number): Promise<ResultRecord[]>;
  /**
   * Stages `rows` as a new version of the day and makes it visible in one atomic switch, publishing an
   * old -> new change per visible cell that changed. Idempotent per `jobId`: a retried job finds its
   * version already live and changes nothing.
   */
  publishDay(pipeline: string, date: string, rows: readonly ResultRecord[], meta: { jobId: string; provenance: 'reconciled' }): Promise<{ generation: number; previous: number; corrections: number; ownSwitch?: { previous: number; corrections: number } }>;
  saveReconciliation(rec: DayReconciliation): Promise<void>;
  /** The day's stored reconciliation records, oldest first. */
  reconciliations(pipeline: string, date: string): Promise<DayReconciliation[]>;
  dayStatus(pipeline: string, date: string): Promise<'provisional' | 'sealed'>;
  dirtyCells(pipeline: string, date: string): Promise<DirtyCell[]>;
  /** Cells whose rows another run over other input contradicted (the stream's row misses that input): `other_run`. */
  contradictedCells(pipeline: string, date: string): Promise<DirtyCell[]>;
  /**
   * The day shows the stream's own version (0) again although it was reconciled: a revert went back to
   * it. A backfill leaves such a day alone (it would mix recomputed cells into the stream's record).
   */
  revertedToStream(pipeline: string, date: string): Promise<boolean>;
  /** When the day's first version was published (epoch ms); null: never reconciled. */
  firstPublishedAt(pipeline: string, date: string): Promise<number | null>;
  /** The definition versions of the day's live rows, with how many rows each. */
  definitionVersions(pipeline: string, date: string): Promise<Map<string, number>>;
  /** Upserts recomputed cells into the day's live version (provenance `backfill`), consuming those dirty cells. */
  upsertBackfill(pipeline: string, date: string, rows: readonly ResultRecord[], consumed: readonly DirtyCell[], meta: { jobId: string; progress?: (what: string) => void | Promise<void> }): Promise<{ changed: number }>;
  /** Marks cells dirty (archive content added after the day's reconcile touches them). */
  markDirty?(pipeline: string, cells: readonly { day: string; windowStart: number; key: KeyValues }[], reason: string): Promise<void>;
  /** Archive files written after this instant are news to the day's live version; null: never reconciled. */
  archiveCheckedThrough?(pipeline: string, date: string): Promise<number | null>;
  setArchiveCheckedThrough?(pipeline: string, date: string, at: number): Promise<void>;
  /**
   * How far the stream read each source of the pipeline (offset after the last it read; store/stream-reach.ts):
   * archived events past it are `archive_added`. Empty: no run recorded one (a store written before 2026-12-08).
   */
  streamReach?(pipeline: string): Promise<ReadonlyMap<string, number>>;
}

/**
 * Every difference is named after the stream's own verdicts on the events: its record of lateness (its
 * late log, or what the merge stage fed out of order) or of its time quarantine (`future_timestamp`, its
 * dead letters), or its refusals for a field that changed definitions now take (`parse_reject`: with no
 * stream row, only the stream's refusals can name a cell so). The stream read those events and judged
 * them; it did not miss them.
 */
function explainedByStreamVerdicts(report: ReconcileReport): boolean {
  const { late_beyond_lateness, late_within_lateness, idle_wakeup, future_timestamp, parse_reject } = report.causes;
  return report.different > 0 && late_beyond_lateness + late_within_lateness + idle_wakeup + future_timestamp + parse_reject === report.different;
}

export type Progress = (p: { done: number; total: number; what: string }) => Promise<void> | void;

export interface ReconcileDayRequest {
  readonly def: PipelineDefinition;
  readonly date: string;
  readonly store: ReconcileStore;
  readonly archiveDir: string;
  readonly jobId: string;
  /** The definitions file's own version of the pipeline when `def` has B and L of flags, env or --config. */
  readonly ownVersion?: string;
  /** Where the JSON + Markdown report go (`<dir>/<date>/<pipeline>.json|.md`); none when absent. */
  readonly reportDir?: string;
  /** The store's name (`storeIdentity`), in the JSON report: another store's report there is refused, not replaced. */
  readonly storeName?: string;
  /** Also attribute what the dashboard showed at this instant (`update_after_read`). */
  readonly readAt?: number;
  readonly progress?: Progress;
  readonly now?: () => number;
  /** Publish the replay even when some differences are unexplained (the report says so). */
  readonly force?: boolean;
  /**
   * A day asked for explicitly although it may be empty (`jobs enqueue --allow-empty`): a day with no
   * archived event is replayed (else NoArchivedDayError), and published as an empty version when the
   * stream wrote no row either. (A day the archive holds with no stream row and no replayed row, e.g. a
   * rule's day without an alert, is published empty with or without it; a replay with rows refuses:
   * NoRealtimeRowsError, the stream missed the day.)
   */
  readonly allowEmpty?: boolean;
}

/**
 * The nightly job's work for one pipeline and day: replay the day from the archive, diff it against the
 * stream's stored rows, attribute every difference, and, only if none is unexplained, publish the
 * replayed values as the day's new version (provenance `reconciled`) in one atomic switch. The report
 * is stored and written as JSON + Markdown either way; unexplained differences fail loudly.
 */
export async function reconcileDay(req: ReconcileDayRequest): Promise<DayReconciliation> {
  const { def, date, store } = req;
  const range = dayRange(date);
  const step = async (done: number, what: string) => req.progress?.({ done, total: 5, what });
  // Before anything is published: a report directory that cannot be written failed the job after its
  // version went live (the job failed, its retries too, and the day stayed switched).
  await prepareReportDir(req.reportDir, date, def.name, req.storeName);
  await step(0, 'reading the stream\'s rows and late events');
  if (req.allowEmpty !== true && !(await archiveHoldsDay(def, req.archiveDir, date))) throw await noArchivedDay(date, req.archiveDir);
  const times = eventTimesOfDay(def, date);
  const [realtime, lateLog, dashboardRead, otherRun, quarantined] = await Promise.all([
    store.realtimeResults(def.name, date),
    lateEventsOfDay(store, def, date),
    req.readAt === undefined ? Promise.resolve(undefined) : store.asOf(def.name, date, req.readAt),
    store.contradictedCells(def.name, date),
    store.quarantinedEvents(def.schema.name, times.from, times.to),
  ]);
  // Asked of the store before the replay: a day the stream never wrote, or has not reached, was replayed
  // whole only to be refused after, with advice (stream it) that did not fit a pipeline added later. Not
  // when the stream left verdicts on the day's events (late, quarantined, refused): it read the day, and
  // the replay weighs them (a day refused whole leaves no row and no watermark in it).
  const verdicts = lateLog.length > 0 || quarantined.length > 0;
  const noStream = realtime.length === 0 && !verdicts && req.allowEmpty !== true ? await whyNoStreamRows(store, def, date) : undefined;
  if (noStream !== undefined) throw new NoRealtimeRowsError(def.name, date, noStream, req.archiveDir);
  const given = definitionVersion(def);
  const stored = new Map<string, number>();
  for (const r of realtime) stored.set(r.definitionVersion, (stored.get(r.definitionVersion) ?? 0) + 1);
  if ([...stored.keys()].some((v) => v !== given)) {
    // A day already recomputed under these definitions (backfill) has no stream rows of theirs to diff:
    // the advice to backfill it, given again, sent the user round in a loop.
    const live = await store.definitionVersions(def.name, date);
    if (live.size === 1 && live.has(given)) throw new DayRecomputedError(def.name, date, given, stored);
    throw new DefinitionChangedError(def.name, date, given, stored, 'reconcile', { archiveDir: req.archiveDir, ...(req.ownVersion === undefined ? {} : { own: req.ownVersion }) });
  }
  // Archive files written from here on may be missed by this replay: the next archive check looks at them.
  const archiveReadFrom = Date.now();
  // Archive files written after the day's first reconcile: events the stream may never have read.
  const firstPublished = await store.firstPublishedAt(def.name, date);
  // (A rule day's reach can be anywhere before the day: the reconcile lists the files of its reach itself.)
  const archiveAdded = firstPublished === null || def.kind === 'rule' ? [] : (await archiveFilesWrittenSince(def, req.archiveDir, date, firstPublished)).map((f) => f.path);
  // Lines appended after the stream read its file, archived before or after the day's first reconcile.
  const streamReach = await store.streamReach?.(def.name);
  const rule = def.kind === 'rule' ? {
    ...(firstPublished === null ? {} : { archiveAddedSince: firstPublished }),
    lateLogBefore: { from: range.from - 2 * def.rule.span, load: (a: number, b: number) => ruleLateEventsBetween(store, def, a, b) },
    // The verdicts read above start there too: a quiet key's older ones are loaded as its reach needs them.
    quarantinedBefore: { from: times.from, load: (a: number, b: number) => store.quarantinedEvents(def.schema.name, a, b) },
  } : {};
  await step(1, 'replaying the day from the archive and attributing differences');
  const { report, replayed, readFrom } = await reconcileWithReplay({
    ...(archiveAdded.length > 0 ? { archiveAdded } : {}), ...(streamReach !== undefined && streamReach.size > 0 ? { streamReach } : {}), ...rule,
    ...(otherRun.length > 0 ? { otherRun } : {}), ...(quarantined.length > 0 ? { quarantined } : {}), storedRuns: true,
    def, realtime, archiveDir: req.archiveDir, lateLog, range, ...(dashboardRead ? { dashboardRead } : {}),
    progress: (stage) => step(1, `replaying the day and attributing differences: ${stage}`),
  });
  // No stream row is not yet a missed day: a rule that raised no alert, a filter that kept nothing, store
  // nothing. Only a replay with rows says the stream missed the day, unless the stream's own verdicts
  // explain every one of them (it read the day and judged it late, or quarantined its events for a time
  // ahead of their reference: streaming it again changes nothing).
  if (realtime.length === 0 && replayed.length > 0 && !explainedByStreamVerdicts(report)) throw new NoRealtimeRowsError(def.name, date);
  const base = {
    date, pipeline: def.name, job_id: req.jobId, day_status: await store.dayStatus(def.name, date),
    reconciled_at: new Date((req.now ?? Date.now)()).toISOString(), report,
  };
  // A file of the day moved to _corrupt/ (now or by an earlier read): the replay lacks its events, and its
  // cells read as `archive_gap` (or unexplained); publishing would replace the stream's numbers with smaller ones.
  // A rule day: from its quietest key's reach, found without them (a key whose every earlier event was in
  // a corrupt file reaches no further back: such a file is not named).
  const corrupt = await corruptFilesIn(req.archiveDir, def.schema, { from: Math.min(times.from, readFrom ?? times.from), to: times.to });
  if (corrupt.length > 0 && req.force !== true) throw new CorruptArchiveDayError(def.name, date, corrupt);
  if (report.unexplained > 0 && req.force !== true) {
    const failed: DayReconciliation = { ...base, generation: null, previous_generation: -1, status: 'failed_unexplained', corrections: 0 };
    await store.saveReconciliation(failed);
    await writeReport(req.reportDir, failed, def.kind, req.storeName);
    throw new UnexplainedDifferencesError(failed);
  }
  // `different` counts the cells either side holds (a rule's stream alerts the replay lacks too), not a part of the replay's.
  // A rule's replay is alerts, which it said were cells.
  const unit = def.kind === 'rule' ? 'alert' : 'cell';
  await step(2, `publishing the replayed day (${replayed.length} ${unit}${replayed.length === 1 ? '' : 's'}; ${report.different} differ from the stream's)`);
  const published = await store.publishDay(def.name, date, replayed, { jobId: req.jobId, provenance: 'reconciled' });
  if (published.generation === published.previous) await step(2, `version ${published.generation}, live, already holds this replay: nothing published`);
  await store.setArchiveCheckedThrough?.(def.name, date, archiveReadFrom);
  // A run whose replay the live version already held is stored as its own `unchanged` entry: the record of
  // the run that published that version (what it corrected) stays as it was (currentReconciliation).
  // A retried job whose earlier attempt published the live version but lost its answer (and so its record)
  // did publish it: recorded as that attempt's switch.
  const own = published.ownSwitch;
  const lostAnswer = own !== undefined && !(await store.reconciliations(def.name, date))
    .some((r) => r.job_id === req.jobId && r.status === 'published' && r.generation === published.generation);
  const switched = lostAnswer && own !== undefined ? own : published;
  const status = lostAnswer || published.generation !== published.previous ? 'published' : 'unchanged';
  const rec: DayReconciliation = { ...base, generation: published.generation, previous_generation: switched.previous, status, corrections: switched.corrections };
  await step(3, 'storing the report');
  await store.saveReconciliation(rec);
  await step(4, req.reportDir === undefined ? 'no report files asked for' : `writing the report to ${req.reportDir}`);
  await writeReport(req.reportDir, rec, def.kind, req.storeName);
  await step(5, 'done');
  return rec;
}

export interface RecomputeSummary {
  pipeline: string;
  date: string;
  cells: number;
  /** The version made live, or null when the day has neither archived events nor stored rows. */
  generation: number | null;
  previous: number;
  corrections: number;
}

/**
 * After a definition changed: recomputes a whole day from the archive under the definition given (its
 * version goes on every row) and publishes it as the day's new version in one atomic switch. Unlike
 * `reconcileDay` there is nothing to diff against: the stream's rows were computed by another
 * definition. Idempotent per job id, like every publish.
 */
export async function recomputeDay(req: Omit<BackfillRequest, 'progress'> & { readonly progress?: Progress; readonly hasStoredRows: boolean }): Promise<RecomputeSummary> {
  const { def, date, store } = req;
  const range = dayRange(date);
  // A day's windows hold events up to its last window's end (archive-changes.ts); a rule day, its keys' reach.
  const times = eventTimesOfDay(def, date);
  // As reconcile: a day the archive holds no event of (not archived, or another --archive), or whose files
  // were moved to _corrupt/, replays fewer events than it had; published, it withdrew the stored cells.
  const corrupt = await corruptFilesIn(req.archiveDir, def.schema, times);
  if (corrupt.length > 0) throw new CorruptArchiveDayError(def.name, date, corrupt, 'backfill');
  if (!(await archiveHoldsDay(def, req.archiveDir, date))) {
    if (!req.hasStoredRows) return { pipeline: def.name, date, cells: 0, generation: null, previous: -1, corrections: 0 };
    throw await noArchivedDay(date, req.archiveDir);
  }
  await req.progress?.({ done: 0, total: 2, what: `replaying ${date} from the archive` });
  const ruleDay = def.kind === 'rule' ? await replayRuleDay(def, req.archiveDir, range) : undefined;
  const results = ruleDay?.alerts ?? await replay(def, req.archiveDir, { dedupe: true, timeRanges: [times], exactDistinct: false });
  // Again after the replay: it may have moved files out, and a rule day's quiet keys reach further back.
  const movedOut = await corruptFilesIn(req.archiveDir, def.schema, { from: Math.min(times.from, ruleDay?.from ?? times.from), to: times.to });
  if (movedOut.length > 0) throw new CorruptArchiveDayError(def.name, date, movedOut, 'backfill');
  const rows = [...finalResults(results).values()].filter((r) => inRange(r, range));
  const summary: RecomputeSummary = { pipeline: def.name, date, cells: rows.length, generation: null, previous: -1, corrections: 0 };
  if (rows.length === 0 && !req.hasStoredRows) return summary;
  await req.progress?.({ done: 1, total: 2, what: `publishing ${rows.length} cells as a new version of ${date}` });
  const published = await store.publishDay(def.name, date, rows, { jobId: req.jobId, provenance: 'reconciled' });
  await req.progress?.({ done: 2, total: 2, what: 'published' });
  return { ...summary, generation: published.generation, previous: published.previous, corrections: published.corrections };
}
