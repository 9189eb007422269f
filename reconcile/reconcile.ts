import { archivedSources, readArrivalOrder } from '../batch/archive-reader.ts';
import { DuckDb } from '../batch/duckdb.ts';
import { cellTableResults, loadWindowSkips, replay, replayCellTable, replaysAsTable } from '../batch/replay.ts';
import { definitionVersion, fieldsRead, type PipelineDefinition, type RulePipeline, type WindowedPipeline } from '../pipeline/definition.ts';
import { isBeyondLateness, isDecided } from '../pipeline/lateness.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import { formatDuration, isoMillis } from '../pipeline/time.ts';
import { cellKey, type LateRecord, type ResultRecord, type WindowResult } from '../schemas/results.ts';
import { CollectingEmitter, createOperator } from '../stream/operators/index.ts';
import { finalResults } from './final-results.ts';
import { diffCells, loadResults, variantSide, type CellSide } from './cell-diff.ts';
import { findDuplicates, findGaps, readRejected } from './evidence.ts';
import { archiveJudgement, type JudgedLate } from './partition-lateness.ts';
import { causeOf, evidenceAttribution, primaryValue, ruleAttribution, sameValue, valuesOf, windowAttribution, windowsSkippedBy, type Attribution, type Evidence } from './attribution.ts';

/**
 * Why a realtime number differs from the replayed (complete) one, each backed by evidence:
 * - late_beyond_lateness: events that arrived after their window (or rule decision) was closed for good;
 * - late_within_lateness: rule events evaluated once on arrival, after later events had been decided;
 * - update_after_read: the dashboard showed a value the stream itself corrected later (a late update
 *   within the allowed lateness arrived after the read);
 * - missing_window: the realtime output lacks a cell the stream semantics would have produced (the
 *   stream was down, or its output was lost);
 * - duplicate: the log holds an event id more than once; the stream counted every delivery, the
 *   replay counts the event once;
 * - future_timestamp: the stream counted events the archive quarantined for a time too far ahead of
 *   their reference (pipeline/time-guard.ts: e.g. the schema's max_future_skew changed in between);
 * - parse_reject: records the pipeline rejected (dead letters) belong to the cell;
 * - archive_gap: the archive misses offsets of a source that are neither archived nor rejected;
 * - unexplained: none of the above (a bug somewhere; the goal is 0).
 */
export type Cause =
  | 'late_beyond_lateness' | 'late_within_lateness' | 'update_after_read' | 'missing_window'
  | 'duplicate' | 'future_timestamp' | 'parse_reject' | 'archive_gap' | 'unexplained';

export const CAUSES: readonly Cause[] = [
  'late_beyond_lateness', 'late_within_lateness', 'update_after_read', 'missing_window', 'duplicate', 'future_timestamp', 'parse_reject', 'archive_gap', 'unexplained',
];

export interface LateEventRef {
  id: string;
  ts: string;
  source: string;
  offset: number;
  /** W the event met on arrival. */
  watermark: string;
}

export interface Difference {
  cell: Record<string, unknown>;
  realtime: Record<string, unknown> | null;
  replay: Record<string, unknown> | null;
  cause: Cause;
  late_events: LateEventRef[];
}

/** How far realtime is from the replay, per pipeline (the next-day report's headline numbers). */
export interface ReconcileMetrics {
  realtime_cells: number;
  replay_cells: number;
  /** In both, with different values. */
  mismatched: number;
  /** In the replay only (windows or alerts the realtime output lacks; alerts: missed). */
  missing: number;
  /** In the realtime output only (alerts: spurious). */
  extra: number;
  /** (mismatched + missing + extra) / cells. */
  mismatch_rate: number;
  /** Σ|a - b| / Σ(a + b) over every cell of the first output (alerts: 1 per alert), 0 when both are empty. */
  smape: number;
}

export interface ReconcileReport {
  pipeline: string;
  definition_version: string;
  max_out_of_orderness: string;
  allowed_lateness: string;
  cells: number;
  equal: number;
  different: number;
  causes: Record<Cause, number>;
  unexplained: number;
  late_events: number;
  metrics: ReconcileMetrics;
  /** Deliveries of an already delivered event id, rejected records, and archive gaps (offsets) seen. */
  evidence: { duplicates: number; dead_letters: number; archive_gaps: number };
  differences: Difference[];
}

export interface ReconcileInput {
  readonly def: PipelineDefinition;
  /** Realtime output rows (a changelog or final rows). */
  readonly realtime: readonly ResultRecord[];
  readonly archiveDir: string;
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
}

/** A late event as a worker recorded it. */
export interface LoggedLate {
  readonly record: LateRecord;
  /** Rule events within the allowed lateness were evaluated once on arrival, not dropped. */
  readonly evaluatedOnArrival: boolean;
}

/**
 * Diffs realtime results against a replay of the archive and attributes every difference.
 * Attribution rebuilds what the stream saw: the archive keeps each event's arrival position, so
 * running the stream semantics over it (same B and L) names the late events of every cell. A
 * difference is explained only if the realtime value equals what those semantics predict.
 */
export async function reconcile(input: ReconcileInput): Promise<ReconcileReport> {
  return (await run(input, false)).report;
}

/** `reconcile`, also handing back the replayed (complete) results of the range: the corrected values. */
export async function reconcileWithReplay(input: ReconcileInput): Promise<{ report: ReconcileReport; replayed: ResultRecord[] }> {
  return run(input, true);
}

type Range = ReconcileInput['range'];

async function run(input: ReconcileInput, withReplayed: boolean): Promise<{ report: ReconcileReport; replayed: ResultRecord[] }> {
  const { def, range } = input;
  const db = await DuckDb.open();
  try {
    // A day's windows hold events up to one window size past its end; rules look back without bound.
    const timeRanges = range && def.kind === 'windowed' ? [{ from: range.from, to: range.to + def.window.size }] : undefined;
    await input.progress?.('evidence: dead letters, repeated event ids, archive gaps');
    const rejected = await readRejected(input.archiveDir, def.schema);
    const evidence: Evidence = {
      duplicates: await findDuplicates(input.archiveDir, def.schema, db, fieldsRead(def), timeRanges),
      rejected,
      gaps: await findGaps(input.archiveDir, def.schema, db, rejected),
    };
    const given = input.lateLog?.filter((l) => l.record.pipeline === def.name);
    // Hopping windows: the windows that skipped an event others took are in no late log (the event was
    // not late), so they are judged from the archive, as the workers judged them (per partition).
    const hopping = def.kind === 'windowed' && def.window.kind === 'hopping';
    const judged = (given === undefined || hopping) ? await judgedByPartition(def, input.archiveDir, db, { whenOneSource: given !== undefined }) : undefined;
    const logged = given ?? judged?.late;
    return def.kind === 'windowed'
      ? await reconcileWindowed(db, def, input, evidence, logged, logged ? (judged?.skippedWindows ?? []) : [], timeRanges, withReplayed)
      : await reconcileRule(db, def, input, evidence, logged);
  } finally {
    db.close();
  }
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
async function judgedByPartition(def: PipelineDefinition, dir: string, db: DuckDb, o: { whenOneSource: boolean }): Promise<{ late: LoggedLate[]; skippedWindows: LateRecord[] } | undefined> {
  // One source without a log: the stream is re-run over the archive instead (shadowRun), skips included.
  if (!o.whenOneSource && (await archivedSources(dir, def.schema, db)).length <= 1) return undefined;
  const judged = await archiveJudgement(dir, def, db);
  const record = (l: JudgedLate): LateRecord => ({
    pipeline: def.name, event: l.event, position: l.position, watermark: l.watermark, ...(l.window ? { windowStart: l.window.start, windowEnd: l.window.end } : {}),
  });
  return { late: judged.late.map((l) => ({ evaluatedOnArrival: l.evaluatedOnArrival, record: record(l) })), skippedWindows: judged.skippedWindows.map(record) };
}

function emptyReport(def: PipelineDefinition, metrics: ReconcileMetrics, lateEvents: number, evidence: Evidence): ReconcileReport {
  return {
    pipeline: def.name,
    definition_version: definitionVersion(def),
    max_out_of_orderness: formatDuration(def.watermark.maxOutOfOrderness),
    allowed_lateness: formatDuration(def.allowedLateness),
    cells: 0, equal: 0, different: 0,
    causes: Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>,
    unexplained: 0,
    late_events: lateEvents,
    metrics,
    evidence: {
      duplicates: evidence.duplicates.deliveries.length,
      dead_letters: evidence.rejected.length,
      archive_gaps: [...evidence.gaps.values()].reduce((a, b) => a + b, 0),
    },
    differences: [],
  };
}

function recordDifference(report: ReconcileReport, rt: ResultRecord | undefined, rp: ResultRecord | undefined, cause: Cause, events: LateEventRef[]): void {
  report.different++;
  report.causes[cause]++;
  report.differences.push({ cell: cellFields((rt ?? rp)!), realtime: rt ? valueFields(rt) : null, replay: rp ? valueFields(rp) : null, cause, late_events: events });
}

/**
 * Windows: every side of the diff is a DuckDB relation (see cell-diff.ts), so only differing cells
 * reach JS. Definitions without sketches replay straight into a cell table, the deduplicated replay and
 * the shadow (every delivery but the logged late ones) from one scan; sketches are replayed to records.
 */
async function reconcileWindowed(
  db: DuckDb, def: WindowedPipeline, input: ReconcileInput, evidence: Evidence,
  logged: readonly LoggedLate[] | undefined, skippedWindows: readonly LateRecord[], timeRanges: { from: number; to: number }[] | undefined, withReplayed: boolean,
): Promise<{ report: ReconcileReport; replayed: ResultRecord[] }> {
  const range = input.range;
  const dedupe = input.dedupe ?? true;
  const extras = evidence.duplicates;
  const ranges = timeRanges ? { timeRanges } : {};
  let replayed: CellSide, shadow: CellSide | undefined, replayedRecords: () => Promise<ResultRecord[]>;
  await input.progress?.('replaying the archive');
  if (replaysAsTable(def)) {
    const variants = [dedupe ? extras.replayExtrasTable : undefined];
    if (logged) {
      await db.createTableFromColumns('late_logged_rows', [
        { name: '_source', type: 'VARCHAR', values: logged.map((l) => l.record.position.source) },
        { name: '_offset', type: 'DOUBLE', values: logged.map((l) => l.record.position.offset) },
      ]);
      await db.run('CREATE OR REPLACE TEMP TABLE late_logged AS SELECT _source, _offset::BIGINT AS _offset FROM late_logged_rows');
      variants.push('late_logged');
    }
    let skipped: { variant: number; table: string } | undefined;
    if (skippedWindows.length > 0) {
      await loadWindowSkips(db, 'skipped_windows', skippedWindows.map((l) => ({ ...l.position, windowStart: l.windowStart! })));
      skipped = { variant: 1, table: 'skipped_windows' };
    }
    await replayCellTable(db, def, input.archiveDir, 'replay_cells', { ...ranges, variants, ...(skipped ? { skippedWindows: skipped } : {}) });
    replayed = await variantSide(db, def, 'replay_cells', 0, 'rp_cells', range);
    if (logged) shadow = await variantSide(db, def, 'replay_cells', 1, 'sh_cells', range);
    replayedRecords = () => cellTableResults(db, def, 'replay_cells', 0, range);
  } else {
    const all = await replay(def, input.archiveDir, { db, exactDistinct: false, ...ranges, ...(dedupe ? { exclude: extras.replayExtras } : {}) });
    replayed = await loadResults(db, def, 'rp_cells', all, range);
    if (logged) {
      // The workers said which events they judged late: what they should have produced is the archive
      // without exactly those, every delivery counted (as the stream counts).
      const exclude = logged.map((l) => l.record.position);
      const excludeFromWindows = skippedWindows.map((l) => ({ ...l.position, windowStart: l.windowStart! }));
      shadow = await loadResults(db, def, 'sh_cells', await replay(def, input.archiveDir, { db, exactDistinct: false, exclude, excludeFromWindows, ...ranges }), range);
    }
    replayedRecords = async () => [...finalResults(all.filter((r) => inRange(r, range))).values()];
  }
  let skips: readonly LateRecord[], lateEvents: number;
  if (logged) {
    skips = [...logged.flatMap((l) => windowsSkippedBy(def, l)), ...skippedWindows];
    lateEvents = logged.filter((l) => !l.evaluatedOnArrival).length;
  } else {
    // No record of what the stream judged late: rebuild it by running the stream semantics over the
    // archive in arrival order.
    await input.progress?.('re-running the stream over the archive in arrival order');
    const { out } = await shadowRun(db, def, input.archiveDir);
    shadow = await loadResults(db, def, 'sh_cells', out.results, range);
    skips = out.skips;
    lateEvents = out.lates.length;
  }
  await input.progress?.(`loading ${input.realtime.length} realtime rows`);
  const realtime = await loadResults(db, def, 'rt_cells', input.realtime, range);
  const read = input.dashboardRead ? await loadResults(db, def, 'read_cells', input.dashboardRead, range) : undefined;
  await input.progress?.('diffing every cell');
  const diff = await diffCells(db, def, { realtime, replayed, shadow: shadow!, ...(read ? { read } : {}) });
  await input.progress?.(`attributing ${diff.rows.length} differing cells of ${diff.cells}`);
  const report = emptyReport(def, diff.metrics, lateEvents, evidence);
  const attribute = windowAttribution(def, skips);
  const fallback = evidenceAttribution(def, evidence);
  for (const row of diff.rows) {
    // Equal, but the reader saw another value, and the stream itself settled on the right one later.
    if (row.same) recordDifference(report, row.read, row.rp, 'update_after_read', []);
    else {
      const { cause, events } = causeOf(attribute, fallback, cellKey((row.rt ?? row.rp)!), row.rt, row.rp, row.sh);
      recordDifference(report, row.rt, row.rp, cause, events);
    }
  }
  report.cells = diff.cells;
  report.equal = diff.cells - report.different;
  report.unexplained = report.causes.unexplained;
  return { report, replayed: withReplayed ? await replayedRecords() : [] };
}

/** The stream semantics over the archive in arrival order (every source holds W from the start, as a worker's partitions do). */
async function shadowRun(db: DuckDb, def: PipelineDefinition, archiveDir: string): Promise<{ out: CollectingEmitter; evaluatedLate: LateRecord[] }> {
  const out = new CollectingEmitter();
  const evaluatedLate: LateRecord[] = [];
  const arrivals = await readArrivalOrder(archiveDir, def.schema, { db, fields: fieldsRead(def) });
  const tracker = new WatermarkTracker(def.watermark.maxOutOfOrderness);
  tracker.addSources((await archivedSources(archiveDir, def.schema, db)).map((source) => ({ source, idle: false })));
  const op = createOperator(def, out, { tracker });
  for (const a of arrivals) {
    const ts = a.event[def.schema.timeField] as number;
    const w = tracker.current;
    // Rule events that met W - L < ts <= W: evaluated once on arrival (judged against the same W).
    if (def.kind === 'rule' && isDecided(ts, w) && !isBeyondLateness(ts, def.allowedLateness, w)) {
      evaluatedLate.push({ pipeline: def.name, event: a.event, position: a.position, watermark: w });
    }
    op.process(a.event, a.position);
  }
  op.finish();
  return { out, evaluatedLate };
}

function inRange(r: ResultRecord, range: Range): boolean {
  const at = r.kind === 'window' ? r.windowStart : r.ts;
  return !range || (at >= range.from && at < range.to);
}

/** Rules: alerts are few; the diff runs over maps in JS. */
async function reconcileRule(
  db: DuckDb, def: RulePipeline, input: ReconcileInput, evidence: Evidence, logged: readonly LoggedLate[] | undefined,
): Promise<{ report: ReconcileReport; replayed: ResultRecord[] }> {
  const range = input.range;
  const exclude = (input.dedupe ?? true) ? { exclude: evidence.duplicates.replayExtras } : {};
  const replayed = finalResults((await replay(def, input.archiveDir, { db, exactDistinct: false, ...exclude })).filter((r) => inRange(r, range)));
  const realtime = finalResults(input.realtime.filter((r) => inRange(r, range)));
  const read = input.dashboardRead ? finalResults(input.dashboardRead.filter((r) => inRange(r, range))) : undefined;
  let attribute: Attribution, shadow: Map<string, ResultRecord>, lateEvents: number;
  if (logged) {
    // The workers' own decisions are the reference: no simulated alert set to compare against.
    const rule = ruleAttribution(def, logged.filter((l) => !l.evaluatedOnArrival).map((l) => l.record), logged.filter((l) => l.evaluatedOnArrival).map((l) => l.record));
    attribute = (id, rt, rp) => rule(id, rt, rp, rt);
    shadow = realtime;
    lateEvents = logged.filter((l) => !l.evaluatedOnArrival).length;
  } else {
    const run = await shadowRun(db, def, input.archiveDir);
    attribute = ruleAttribution(def, run.out.lates, run.evaluatedLate);
    shadow = finalResults(run.out.results);
    lateEvents = run.out.lates.length;
  }
  const report = emptyReport(def, metricsOf(def, realtime, replayed), lateEvents, evidence);
  const fallback = evidenceAttribution(def, evidence);
  const cells = new Set([...replayed.keys(), ...realtime.keys()]);
  // Alert order (ids start with the key), as the windows' report orders by window then key.
  for (const id of [...cells].sort((a, b) => parseFloat(a) - parseFloat(b) || (a < b ? -1 : a > b ? 1 : 0))) {
    report.cells++;
    const rt = realtime.get(id), rp = replayed.get(id), sh = shadow.get(id);
    if (sameValue(rt, rp)) {
      const shown = read?.get(id);
      if (shown !== undefined && !sameValue(shown, rt)) recordDifference(report, shown, rp, 'update_after_read', []);
      else report.equal++;
      continue;
    }
    const { cause, events } = causeOf(attribute, fallback, id, rt, rp, sh);
    recordDifference(report, rt, rp, cause, events);
  }
  report.unexplained = report.causes.unexplained;
  return { report, replayed: [...replayed.values()] };
}

function metricsOf(def: PipelineDefinition, realtime: Map<string, ResultRecord>, replayed: Map<string, ResultRecord>): ReconcileMetrics {
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

function cellFields(r: ResultRecord): Record<string, unknown> {
  if (r.kind === 'window') return { window_start: isoMillis(r.windowStart), window_end: isoMillis(r.windowEnd), ...r.key };
  return { ...r.key, [r.idField]: r.id, ts: isoMillis(r.ts) };
}

function valueFields(r: ResultRecord): Record<string, unknown> {
  return r.kind === 'window' ? { ...(r as WindowResult).values, revision: r.revision } : valuesOf(r);
}
