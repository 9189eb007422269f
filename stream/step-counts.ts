import type { ProcessMetrics } from '../serve/process-metrics.ts';
import { mergeRejections, rejectionsFromJson, rejectionsSince, rejectionsToJson, type RejectionReasons, type RejectionReasonsJson } from './rejection-reasons.ts';

/**
 * What one step of a stream worker counted (records admitted, dead letters, late events, results), held
 * until its transaction commits: only then are they added to the worker's totals and metrics. Work a
 * refused or dropped transaction carried (a rebalance, a fenced zombie) is read again by whichever member
 * owns the partition next, which counts it then; counted on reading, each such offset was counted twice
 * and `run`'s totals exceeded the input topic's records (docs/semantics.md, "Counters of run").
 */
export class StepCounts {
  events = 0;
  deadLetters = 0;
  firstRejection: string | null = null;
  rejectionReasons: RejectionReasons = new Map();
  misKeyed = 0;
  firstMisKeyed: string | null = null;
  late = 0;
  latePerPipeline: Record<string, number> = {};
  /** Window assignments of hopping pipelines skipped as late (StreamStats.lateWindowSkips). */
  lateWindowSkips = 0;
  /** Per pipeline, every windowed pipeline's skipped window assignments (the metric). */
  readonly skipsPerPipeline = new Map<string, number>();
  lateAccepted = 0;
  results = 0;
  /** Per pipeline, records written (results, and partials for the merge stage): the metric's events out. */
  readonly outPerPipeline = new Map<string, number>();
  /** Per pipeline, valid events its `where` left out (the metric's events filtered: events in minus these is what it took). */
  readonly filteredPerPipeline = new Map<string, number>();
}

/** The worker's totals a committed step adds to (its stats). */
export interface CommittedCounts {
  events: number;
  deadLetters: number;
  /** Where the first dead letter was and why (null: none). */
  firstRejection: string | null;
  /** Dead letters per reason (stream/rejection-reasons.ts), for the progress lines and the summary. */
  rejectionReasons: RejectionReasons;
  /** Events whose record is not keyed by the partition key field (worker-admission.ts misKeyed), and the first. */
  misKeyed: number;
  firstMisKeyed: string | null;
  late: number;
  /** Of those, per pipeline (each judges an event on its own). */
  latePerPipeline: Record<string, number>;
  /**
   * Window assignments of its hopping pipelines skipped as late (StreamStats.lateWindowSkips): an event late
   * for some of its windows counts once per such window, also when newer windows took it.
   */
  lateWindowSkips: number;
  /** Rule events behind W but within the allowed lateness, evaluated on arrival (not in `late`; in the late topic, flagged). */
  lateAccepted: number;
  results: number;
}

const add = (map: Map<string, number>, key: string, n = 1) => map.set(key, (map.get(key) ?? 0) + n);

/** One more result or partial of `pipeline` in the step. */
export function countOut(step: StepCounts, pipeline: string): void {
  add(step.outPerPipeline, pipeline);
}

/** One more valid event that `pipeline`'s `where` left out. */
export function countFiltered(step: StepCounts, pipeline: string): void {
  add(step.filteredPerPipeline, pipeline);
}

/** One more skipped window assignment of `pipeline`; `hopping`: also in the summary's count. */
export function countSkip(step: StepCounts, pipeline: string, hopping: boolean): void {
  add(step.skipsPerPipeline, pipeline);
  if (hopping) step.lateWindowSkips++;
}

/** A committed step's counts into the worker's totals. */
export function addCommitted(totals: CommittedCounts, step: StepCounts): void {
  addPartitionCounts(totals, step);
  totals.firstMisKeyed ??= step.firstMisKeyed;
  totals.results += step.results;
}

/** A committed step's counts into the process metrics: per pipeline of the input, and the input's dead letters. */
export function meterCommitted(metrics: ProcessMetrics, input: string, pipelines: readonly string[], step: StepCounts): void {
  for (const pipeline of pipelines) {
    if (step.events > 0) metrics.eventsIn(pipeline, step.events);
    const filtered = step.filteredPerPipeline.get(pipeline) ?? 0;
    if (filtered > 0) metrics.eventsFiltered(pipeline, filtered);
    const late = step.latePerPipeline[pipeline] ?? 0;
    if (late > 0) metrics.late(pipeline, late);
    const skips = step.skipsPerPipeline.get(pipeline) ?? 0;
    if (skips > 0) metrics.lateWindowSkips(pipeline, skips);
    const out = step.outPerPipeline.get(pipeline) ?? 0;
    if (out > 0) metrics.eventsOut(pipeline, out);
  }
  if (step.deadLetters > 0) metrics.deadLetters(input, step.deadLetters);
}

/**
 * What one input partition's committed steps counted, from the group's first read of it on: kept in its
 * checkpoint, in the transaction that commits its offset, so a worker killed with its committed share in
 * memory loses none of it, and work a refused transaction carried (read again by the next owner) is never
 * in it twice. `run --workers N` sums, over the partitions, what these grew by during the run
 * (`countsSince`): its line of the whole run (docs/semantics.md, "What `run` counts"). Results are not
 * here: a bounded run's drain fires the open windows without writing a checkpoint; nor is the first
 * mis-keyed record. `firstRejection` is not kept in the checkpoint either (the first of a run cannot be
 * told from a cumulative count): null when restored.
 */
export type PartitionCounts = Omit<CommittedCounts, 'firstMisKeyed' | 'results'>;

/** PartitionCounts as a checkpoint keeps them (PartitionCheckpoint.counts). */
export interface PartitionCountsJson {
  events: number;
  dead_letters: number;
  rejections: RejectionReasonsJson;
  mis_keyed: number;
  late: number;
  late_per_pipeline: Record<string, number>;
  late_window_skips: number;
  late_accepted: number;
}

export function emptyPartitionCounts(): PartitionCounts {
  return { events: 0, deadLetters: 0, firstRejection: null, rejectionReasons: new Map(), misKeyed: 0, late: 0, latePerPipeline: {}, lateWindowSkips: 0, lateAccepted: 0 };
}

export function partitionCountsToJson(c: PartitionCounts): PartitionCountsJson {
  return {
    events: c.events, dead_letters: c.deadLetters, rejections: rejectionsToJson(c.rejectionReasons), mis_keyed: c.misKeyed, late: c.late,
    late_per_pipeline: { ...c.latePerPipeline }, late_window_skips: c.lateWindowSkips, late_accepted: c.lateAccepted,
  };
}

/** Read back from a checkpoint; absent (a checkpoint written before 2026-12-08): every count 0. */
export function partitionCountsFromJson(json: Partial<PartitionCountsJson> | undefined): PartitionCounts {
  const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  if (json === undefined || json === null || typeof json !== 'object') return emptyPartitionCounts();
  const perPipeline = typeof json.late_per_pipeline === 'object' && json.late_per_pipeline !== null ? json.late_per_pipeline : {};
  return {
    events: n(json.events), deadLetters: n(json.dead_letters), firstRejection: null, rejectionReasons: rejectionsFromJson(json.rejections), misKeyed: n(json.mis_keyed),
    late: n(json.late), latePerPipeline: Object.fromEntries(Object.entries(perPipeline).map(([k, v]) => [k, n(v)])), lateWindowSkips: n(json.late_window_skips),
    lateAccepted: n(json.late_accepted),
  };
}

/** `from`'s counts added to `into` (partitions summed). */
export function addPartitionCounts(into: PartitionCounts, from: PartitionCounts): void {
  into.events += from.events;
  into.deadLetters += from.deadLetters;
  into.firstRejection ??= from.firstRejection;
  mergeRejections(into.rejectionReasons, from.rejectionReasons);
  into.misKeyed += from.misKeyed;
  into.late += from.late;
  for (const [pipeline, n] of Object.entries(from.latePerPipeline)) into.latePerPipeline[pipeline] = (into.latePerPipeline[pipeline] ?? 0) + n;
  into.lateWindowSkips += from.lateWindowSkips;
  into.lateAccepted += from.lateAccepted;
}

/**
 * What a partition counted between two of its checkpoints: `to` minus `from` (`to` is `from` counted
 * further; a checkpoint the partition never had counts 0).
 */
export function countsSince(to: PartitionCounts, from: PartitionCounts): PartitionCounts {
  const perPipeline = Object.fromEntries(Object.entries(to.latePerPipeline).map(([k, v]) => [k, v - (from.latePerPipeline[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  return {
    events: to.events - from.events, deadLetters: to.deadLetters - from.deadLetters, firstRejection: null,
    rejectionReasons: rejectionsSince(to.rejectionReasons, from.rejectionReasons), misKeyed: to.misKeyed - from.misKeyed, late: to.late - from.late,
    latePerPipeline: perPipeline, lateWindowSkips: to.lateWindowSkips - from.lateWindowSkips, lateAccepted: to.lateAccepted - from.lateAccepted,
  };
}
