import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { archiveFilesOfEventTimes } from '../batch/archive-layout.ts';
import { archivedSources } from '../batch/archive-reader.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { readArchiveRecovering } from '../batch/archive-recovery.ts';
import { listArchiveFiles, requireArchive } from '../batch/parquet-archive.ts';
import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import type { LateRecord, ResultRecord } from '../schemas/results.ts';
import type { Evidence } from './attribution.ts';
import { loadArchiveAdded } from './archive-added.ts';
import { findDuplicates, findGaps, readRejected } from './evidence.ts';
import { lateAtArchivePositions } from './late-positions.ts';
import { archiveJudgement, filesFrom, type JudgedLate } from './partition-lateness.ts';
import type { DirtyCell } from './reconcile-day.ts';
import type { ReconcileReport } from './reconcile-report.ts';
import { reconcileRule } from './reconcile-rule.ts';
import { reconcileWindowed } from './reconcile-windowed.ts';
import { planRuleDay } from './rule-day-reach.ts';
import { heldCauseOf, QUARANTINED_TABLE, quarantinedInArchive, type StreamQuarantine } from './stream-quarantine.ts';

// The report's shape lives in reconcile-report.ts; importers keep reading it from here.
export { CAUSES, type Cause, type Difference, type LateEventRef, type ReconcileMetrics, type ReconcileReport } from './reconcile-report.ts';

export interface ReconcileInput {
  readonly def: PipelineDefinition;
  /** Realtime output rows (a changelog or final rows). */
  readonly realtime: readonly ResultRecord[];
  readonly archiveDir: string;
  /** A connection to read the archive with (default: one opened and closed here); its temporary tables are overwritten. */
  readonly db?: DuckDb;
  /**
   * The late events the realtime workers recorded (Kafka: `concord.late`). When given, attribution uses
   * what the workers actually judged late. Without it, lateness is rebuilt from the archive: by re-running
   * the stream over a one-source archive, per partition over a Kafka topic's (lateLogOfPartitions).
   */
  readonly lateLog?: readonly LoggedLate[];
  /** Only cells of windows starting (alerts raised) in [from, to), e.g. one UTC day. */
  readonly range?: { readonly from: number; readonly to: number };
  /** Count each event id once in the replay (default true; see ReplayOptions.dedupe). */
  readonly dedupe?: boolean;
  /**
   * What the dashboard showed at some instant (the store's as-of read): cells it showed differently
   * that the stream corrected later are reported as `update_after_read`.
   */
  readonly dashboardRead?: readonly ResultRecord[];
  /** Told each stage as it starts (a 100M-event day takes ~45 s on 2 cores). */
  readonly progress?: (stage: string) => Promise<void> | void;
  /**
   * Archive files written after the day's first reconcile (reconcileDay lists them): events the stream
   * never read that a differing cell may owe its difference to (`archive_added`, archive-added.ts).
   * Used with the late log only (the store's days).
   */
  readonly archiveAdded?: readonly string[];
  /**
   * Rules with `range` (a day): instead of `archiveAdded`, the files of the day's reach (rule-day-reach.ts)
   * written after this instant (epoch ms): they can be anywhere in the archive before the day.
   */
  readonly archiveAddedSince?: number;
  /**
   * How far the stream read each source (the store's `stream_reach`: the offset after the last it read):
   * archived events of the range at or past it were appended after the stream read the file, and are
   * `archive_added` like those of `archiveAdded`, whenever they were archived. Used with the late log only.
   */
  readonly streamReach?: ReadonlyMap<string, number>;
  /**
   * Rules with `range` and `lateLog`: the log holds every late event with ts >= `from`; `load(a, b)` gives
   * the workers' late events with a <= ts < b, for the keys whose reach is older (a key quiet before the day).
   */
  readonly lateLogBefore?: { readonly from: number; load(from: number, to: number): Promise<readonly LoggedLate[]> };
  /**
   * Rules with `range`, `lateLog` and `quarantined`: those hold every verdict on events with time >= `from`;
   * `load(a, b)` gives the stream's verdicts on events with a <= time < b, for the keys whose reach is older.
   */
  readonly quarantinedBefore?: { readonly from: number; load(from: number, to: number): Promise<readonly StreamQuarantine[]> };
  /**
   * Cells whose stored rows another run over other input of the same windows contradicted (the store's
   * `other_run` dirty cells): a difference there no other cause explains is `other_run`.
   */
  readonly otherRun?: readonly DirtyCell[];
  /**
   * The realtime rows are the store's, which several stream runs may have written (a day's second file
   * streamed into the same store): a window whose value is exactly one archived file's alone is
   * `other_run` too (other-run.ts `singleFileValues`), recorded cell or not.
   */
  readonly storedRuns?: true;
  /**
   * The events the stream quarantined for their time (its dead letters with reason `future_timestamp`:
   * `concord stream --dead-letter`, the store's quarantine records): it read them and counted none. The
   * archive may hold them (judged later, or under another max_future_skew): a difference they alone make
   * is `future_timestamp` (stream-quarantine.ts). Also the events it rejected for their fields
   * (`rejected`: `--dead-letter`, the store's `rejected_events`), which the archive kept under other
   * definitions: `parse_reject`.
   */
  readonly quarantined?: readonly StreamQuarantine[];
}

/** A late event as a worker recorded it. */
export interface LoggedLate {
  readonly record: LateRecord;
  /** Rule events within the allowed lateness were evaluated once on arrival, not dropped. */
  readonly evaluatedOnArrival: boolean;
  /**
   * Written by a rule's merge stage, not a worker: the stage fed this event out of the canonical order
   * (its partition woke up from idle behind the merge; stream/rule-merge.ts `OutOfOrderDecision`), at
   * clock `at`, as the stage's `order`-th such event. Not late unless `evaluatedOnArrival`: an on-time
   * one was decided at once (`record.watermark`: the W its worker met).
   */
  readonly decidedAfterWakeup?: { readonly at: number; readonly order: number };
}

/** Dropped by its worker (beyond L): neither evaluated on arrival nor an on-time event the merge decided at once. */
export const isDropped = (l: LoggedLate): boolean => !l.evaluatedOnArrival && l.decidedAfterWakeup === undefined;

/**
 * Diffs realtime results against a replay of the archive and attributes every difference.
 * Attribution rebuilds what the stream saw: the archive keeps each event's arrival position, so
 * running the stream semantics over it (same B and L) names the late events of every cell. A
 * difference is explained only if the realtime value equals what those semantics predict.
 */
export async function reconcile(input: ReconcileInput): Promise<ReconcileReport> {
  return (await run(input, false)).report;
}

/**
 * `reconcile`, also handing back the replayed (complete) results of the range: the corrected values; a
 * rule day, the earliest event time it read (`readFrom`: its quietest key's reach).
 */
export async function reconcileWithReplay(input: ReconcileInput): Promise<{ report: ReconcileReport; replayed: ResultRecord[]; readFrom?: number }> {
  return run(input, true);
}

async function run(input: ReconcileInput, withReplayed: boolean): Promise<{ report: ReconcileReport; replayed: ResultRecord[]; readFrom?: number }> {
  const { def, range } = input;
  // Corrupt files and fields added later are dealt with as replay does (the evidence reads the archive
  // first, so a reconcile never got to the replay's own recovery).
  return readArchiveRecovering(def, input.archiveDir, async (db) => {
    // Realtime rows and no archive of the schema (or none left once corrupt files were moved out): the
    // wrong --archive. No rows on either side: nothing to say.
    if (input.realtime.length > 0) await requireArchive(input.archiveDir, def.schema);
    // A day's windows hold events up to one window size past its end; a rule day reads its keys' reach.
    const timeRanges = range && def.kind === 'windowed' ? [{ from: range.from, to: range.to + def.window.size }] : undefined;
    if (range && def.kind === 'rule') await input.progress?.('the day\'s keys and their last events before it');
    const ruleDay = range && def.kind === 'rule' ? await planRuleDay(db, def, input.archiveDir, range) : undefined;
    await input.progress?.('evidence: dead letters, repeated event ids, archive gaps');
    const rejected = await readRejected(input.archiveDir, def.schema);
    const evidence: Evidence = {
      duplicates: await findDuplicates(input.archiveDir, def.schema, db, fieldsRead(def), timeRanges, ruleDay?.files),
      rejected,
      gaps: await findGaps(input.archiveDir, def.schema, db, rejected),
    };
    const quarantined = await quarantinedInArchive(db, def, input.archiveDir, input.quarantined ?? []);
    const heldCause = heldCauseOf(input.quarantined ?? []);
    const own = input.lateLog?.filter((l) => l.record.pipeline === def.name);
    const given = own && (await lateAtArchivePositions(db, def, input.archiveDir, own));
    // Hopping windows: the windows that skipped an event others took are in no late log (the event was
    // not late), so they are judged from the archive, as the workers judged them (per partition).
    const hopping = def.kind === 'windowed' && def.window.kind === 'hopping';
    // Files listed as added before a check moved some of them to _corrupt/: only those still there.
    const present = input.archiveAdded && new Set(await listArchiveFiles(input.archiveDir, def.schema));
    const addedFiles = ruleDay && input.archiveAddedSince !== undefined
      ? await writtenAfter(ruleDay.files, input.archiveAddedSince)
      : input.archiveAdded?.filter((f) => present!.has(f));
    const reach = input.streamReach !== undefined && input.streamReach.size > 0 ? input.streamReach : undefined;
    // Past the stream's reach: in the files of the range's events (a rule day: its reach), of the sources the stream read.
    const beyond = reach && { reach, among: ruleDay?.files ?? (timeRanges ? await filesOfTimes(input.archiveDir, def, timeRanges) : await listArchiveFiles(input.archiveDir, def.schema)) };
    const added = given && (addedFiles || beyond) ? await loadArchiveAdded(db, def, input.archiveDir, addedFiles ?? [], beyond) : undefined;
    // With the log, only the skipped windows of the day's cells are wanted: judged from the day's hours on.
    // Never over the added files: the stream never read them, so no W judged their events (judged as a
    // source of their own, an added event read as late for a window it was never counted in, with a
    // watermark nobody met, and its cells were named late_beyond_lateness instead of archive_added).
    const judgeFiles = given !== undefined && hopping
      ? await withoutFiles(range ? await filesFrom(input.archiveDir, def, range.from) : undefined, added ? addedFiles : undefined, () => listArchiveFiles(input.archiveDir, def.schema))
      : undefined;
    const judged = (given === undefined || hopping) ? await judgedByPartition(def, input.archiveDir, db, { whenOneSource: given !== undefined, files: judgeFiles }) : undefined;
    const logged = given ?? judged?.late;
    if (def.kind === 'windowed') return reconcileWindowed(db, def, input, evidence, { logged, skippedWindows: logged ? (judged?.skippedWindows ?? []) : [], added, quarantined, heldCause }, timeRanges, withReplayed);
    const older = input.lateLogBefore;
    const lateBefore = older && given && {
      from: older.from,
      load: async (a: number, b: number) => lateAtArchivePositions(db, def, input.archiveDir, (await older.load(a, b)).filter((l) => l.record.pipeline === def.name)),
    };
    const olderVerdicts = input.quarantinedBefore;
    const quarantineBefore = olderVerdicts && given && {
      from: olderVerdicts.from,
      load: async (a: number, b: number) => quarantinedInArchive(db, def, input.archiveDir, await olderVerdicts.load(a, b), `${QUARANTINED_TABLE}_older`),
    };
    const out = await reconcileRule(db, def, input, evidence, { logged, added, quarantined, heldCause }, ruleDay && { read: ruleDay, ...(lateBefore ? { lateBefore } : {}), ...(quarantineBefore ? { quarantineBefore } : {}) });
    return ruleDay ? { ...out, readFrom: ruleDay.from } : out;
  }, input.db ? { db: input.db } : {});
}

/**
 * Without the workers' late log (and, for hopping windows, also with it: the windows that skipped an
 * event their other windows took, which no late log holds). An archive of one source (a file) without a
 * log holds the stream's whole order, and the stream is re-run over it (undefined here). One of several sources (Kafka partitions) holds each
 * partition's order only, and that is all the workers' lateness depends on (each event is judged by its
 * own partition's W: docs/semantics.md, "Over Kafka"): the late set is rebuilt per partition, as the
 * workers logged it. (Judged in the archive's ingest order against the minimum W over partitions, a
 * partition archived ahead of the others kept its late events "on time".)
 */
async function judgedByPartition(
  def: PipelineDefinition, dir: string, db: DuckDb, o: { whenOneSource: boolean; files?: readonly string[] | undefined },
): Promise<{ late: LoggedLate[]; skippedWindows: LateRecord[] } | undefined> {
  // One source without a log: the stream is re-run over the archive instead (shadowRun), skips included.
  if (!o.whenOneSource && (await archivedSources(dir, def.schema, db)).length <= 1) return undefined;
  const judged = await archiveJudgement(dir, def, db, o.files);
  const record = (l: JudgedLate): LateRecord => ({
    pipeline: def.name, event: l.event, position: l.position, watermark: l.watermark, ...(l.window ? { windowStart: l.window.start, windowEnd: l.window.end } : {}),
  });
  return { late: judged.late.map((l) => ({ evaluatedOnArrival: l.evaluatedOnArrival, record: record(l) })), skippedWindows: judged.skippedWindows.map(record) };
}

/**
 * `files` (every file of the archive when undefined: `all`) without `left`; `files` as they are when
 * nothing is left out (undefined keeps the whole archive's own, cheaper, file plan).
 */
async function withoutFiles(files: readonly string[] | undefined, left: readonly string[] | undefined, all: () => Promise<string[]>): Promise<readonly string[] | undefined> {
  if (left === undefined || left.length === 0) return files;
  const out = new Set(left.map((f) => resolve(f)));
  return (files ?? (await all())).filter((f) => !out.has(resolve(f)));
}

/** The archive files holding events of `ranges` (their event-time hours). */
async function filesOfTimes(dir: string, def: PipelineDefinition, ranges: readonly { from: number; to: number }[]): Promise<string[]> {
  return [...new Set((await Promise.all(ranges.map((r) => archiveFilesOfEventTimes(dir, def.schema, r)))).flat())];
}

/** The files of `files` modified after `since` (epoch ms): written later (files are written whole, never in place). */
async function writtenAfter(files: readonly string[], since: number): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) if (((await stat(f).catch(() => undefined))?.mtimeMs ?? 0) > since) out.push(f);
  return out;
}
