import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import { formatDuration, isoMillis } from '../pipeline/time.ts';
import { assignWindows } from '../pipeline/windows.ts';
import type { ResultRecord, WindowResult } from '../schemas/results.ts';
import { valuesOf, type Evidence } from './attribution.ts';
import type { Duplicates } from './evidence.ts';

/**
 * Why a realtime number differs from the replayed (complete) one, each backed by evidence:
 * - late_beyond_lateness: events that arrived after their window (or rule decision) was closed for good;
 * - late_within_lateness: rule events evaluated once on arrival, after later events had been decided;
 * - idle_wakeup: rule events on time for their partition that a merge stage fed out of the canonical
 *   order, because the partition woke up from idle behind the merge (decided at once, after later events
 *   of other partitions had been decided): processing time placed them, the merge recorded where;
 * - update_after_read: the dashboard showed a value the stream itself corrected later (a late update
 *   within the allowed lateness arrived after the read);
 * - missing_window: the realtime output lacks a cell the stream semantics would have produced (the
 *   stream was down, or its output was lost);
 * - duplicate: the log holds an event id more than once; the stream counted every delivery, the
 *   replay counts the event once;
 * - future_timestamp: one side quarantined events for a time too far ahead of their reference
 *   (pipeline/time-guard.ts) that the other counted: the stream counted what the archive quarantined
 *   (e.g. the schema's max_future_skew changed in between), or the archive counted what the stream
 *   quarantined (a file streamed first and archived later; the stream's dead letters name them);
 * - parse_reject: records the pipeline rejected (dead letters) belong to the cell;
 * - archive_gap: the archive misses offsets of a source that are neither archived nor rejected;
 * - archive_added: events of archive files written after the day's first reconcile, or at or past the
 *   stream's reach of their source (lines a file appended after the stream read it), which the stream
 *   never read (late data that reached only the archive; a backfill added them): the realtime value is
 *   what the stream gives over the archive without them;
 * - other_run: another run over other input of the same windows wrote rows the store refused (it kept the
 *   first run's, marked the cell dirty `other_run`): the stream's row misses that input's events;
 * - mis_keyed: a pipeline computed per partition, over a topic not keyed by the partition key field: the
 *   cell's events lie in several partitions, and the stream's value is one partition's share (mis-keyed.ts);
 * - unexplained: none of the above (a bug somewhere; the goal is 0).
 */
export type Cause =
  | 'late_beyond_lateness' | 'late_within_lateness' | 'idle_wakeup' | 'update_after_read' | 'missing_window'
  | 'duplicate' | 'future_timestamp' | 'parse_reject' | 'archive_gap' | 'archive_added' | 'other_run' | 'mis_keyed' | 'unexplained';

export const CAUSES: readonly Cause[] = [
  'late_beyond_lateness', 'late_within_lateness', 'idle_wakeup', 'update_after_read', 'missing_window', 'duplicate', 'future_timestamp', 'parse_reject', 'archive_gap', 'archive_added', 'other_run', 'mis_keyed', 'unexplained',
];

export interface LateEventRef {
  id: string;
  ts: string;
  source: string;
  offset: number;
  /** W the event met on arrival (absent for `archive_added` events: the stream never read them). */
  watermark?: string;
}

export interface Difference {
  cell: Record<string, unknown>;
  realtime: Record<string, unknown> | null;
  replay: Record<string, unknown> | null;
  cause: Cause;
  late_events: LateEventRef[];
  /** `mis_keyed`: the input partitions the cell's events lie in, the one whose share the stream's value is first. */
  partitions?: string[];
  /** `duplicate` (windows): the repeated deliveries of the cell, which the stream counted and the replay leaves out (no W: none judged them late). */
  repeated?: LateEventRef[];
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
  /**
   * Deliveries of an already delivered event id (with `range`, those in its cells or alerts), rejected
   * records, and archive gaps (offsets) seen.
   */
  evidence: { duplicates: number; dead_letters: number; archive_gaps: number };
  differences: Difference[];
}

export function emptyReport(
  def: PipelineDefinition, metrics: ReconcileMetrics, lateEvents: number, evidence: Evidence, range?: { readonly from: number; readonly to: number },
): ReconcileReport {
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
      duplicates: repeatsIn(def, evidence.duplicates, range),
      dead_letters: evidence.rejected.length,
      archive_gaps: [...evidence.gaps.values()].reduce((a, b) => a + b, 0),
    },
    differences: [],
  };
}

/**
 * The repeated deliveries of the reconciled range: those in a window starting in it (windows) or at an
 * event time in it (rule alerts). The search covers more (the whole archive, a rule day's reach), and
 * counted whole, every day's report gave the archive's number.
 */
function repeatsIn(def: PipelineDefinition, duplicates: Duplicates, range: { from: number; to: number } | undefined): number {
  if (range === undefined) return duplicates.deliveries.length;
  const inRange = (t: number) => t >= range.from && t < range.to;
  return duplicates.deliveries.filter(({ event }) => {
    const ts = event[def.schema.timeField] as number;
    return def.kind === 'windowed' ? assignWindows(def.window, ts).some(inRange) : inRange(ts);
  }).length;
}

export function recordDifference(
  report: ReconcileReport, rt: ResultRecord | undefined, rp: ResultRecord | undefined, cause: Cause, events: LateEventRef[], partitions?: string[], repeated?: LateEventRef[],
): void {
  report.different++;
  report.causes[cause]++;
  report.differences.push({
    cell: cellFields((rt ?? rp)!), realtime: rt ? valueFields(rt) : null, replay: rp ? valueFields(rp) : null, cause, late_events: events,
    ...(partitions ? { partitions } : {}), ...(repeated && repeated.length > 0 ? { repeated } : {}),
  });
}

function cellFields(r: ResultRecord): Record<string, unknown> {
  if (r.kind === 'window') return { window_start: isoMillis(r.windowStart), window_end: isoMillis(r.windowEnd), ...r.key };
  return { ...r.key, [r.idField]: r.id, ts: isoMillis(r.ts) };
}

function valueFields(r: ResultRecord): Record<string, unknown> {
  return r.kind === 'window' ? { ...(r as WindowResult).values, revision: r.revision } : valuesOf(r);
}
