import type { PipelineDefinition } from '../pipeline/definition.ts';
import { DefinitionError } from '../pipeline/errors.ts';
import { TimeGuard, timeGuardSettings } from '../pipeline/time-guard.ts';
import { admitLine } from '../schemas/decode.ts';
import { type DeadLetter, type LateRecord, type ResultRecord } from '../schemas/results.ts';
import { offsetOf, type LineSource } from '../sources/source.ts';
import { countDeadLetter, type RejectionReasons } from './rejection-reasons.ts';
import { createOperator, type Emitter, type StreamOperator } from './operators/index.ts';

export interface StreamStats {
  lines: number;
  events: number;
  /** Rejected lines, quarantined ones included. */
  deadLetters: number;
  /** Where the first dead letter was and why (null: none). */
  firstRejection: string | null;
  /** Dead letters per reason (quarantined ones too), for the summary: why most lines were refused. */
  rejectionReasons: RejectionReasons;
  /** Of those, events whose time lies (reason future_timestamp or past_horizon). */
  quarantined: number;
  late: number;
  /** Of those, per pipeline: each pipeline judges an event on its own, so one event may count once per pipeline. */
  latePerPipeline: Record<string, number>;
  /**
   * (Event, window) pairs skipped as late: an event of a hopping pipeline late for some of its windows
   * counts once per such window, even when newer windows took it (with tumbling windows, equal to `late`).
   */
  lateWindowSkips: number;
  /** Rule events late within the allowed lateness, evaluated on arrival (not in `late`; the store keeps both). */
  lateAccepted: number;
  results: number;
  /** Operator watermark per pipeline at the end (+Infinity after a bounded input). */
  watermarks: Record<string, number>;
  /**
   * Per pipeline, the watermark the input took it to: before a bounded input's end fires everything
   * (W = +Infinity), what a store keeps as the pipeline's W (it seals days; infinity would seal them all).
   * Set after every batch too (what `afterBatch` sees): every result of a window or alert decided by it
   * has been emitted by then, so a store may take it with those rows.
   */
  inputWatermarks: Record<string, number>;
}

export interface StreamRunOptions {
  /** Pipelines over the same input schema; each gets its own operator and watermark. */
  readonly pipelines: readonly PipelineDefinition[];
  readonly source: LineSource;
  readonly onResult: (record: ResultRecord) => void;
  readonly onLate: (record: LateRecord) => void;
  readonly onDeadLetter: (deadLetter: DeadLetter) => void;
  /** Rule events late within the allowed lateness, evaluated once on arrival (recorded for reconcile). */
  readonly onLateAccepted?: (record: LateRecord) => void;
  /** Called after every batch (progress, flushing sinks). */
  readonly afterBatch?: (stats: StreamStats) => Promise<void> | void;
  /** Bounded input: fire everything at the end (W = +infinity). Default true. */
  readonly finish?: boolean;
}

/**
 * Runs pipelines over an ordered line source: decode, validate (bad lines to the dead-letter
 * output), then feed every operator, batch by batch, synchronously within a batch.
 */
export async function runStream(options: StreamRunOptions): Promise<StreamStats> {
  const schema = options.pipelines[0]?.schema;
  if (schema === undefined) throw new DefinitionError('no pipeline to run');
  const mixed = options.pipelines.find((p) => p.schema.name !== schema.name);
  if (mixed) throw new DefinitionError(`pipelines read one input: ${mixed.name} reads ${mixed.schema.name}, not ${schema.name}`);

  const stats: StreamStats = { lines: 0, events: 0, deadLetters: 0, firstRejection: null, rejectionReasons: new Map(), quarantined: 0, late: 0, latePerPipeline: {}, lateWindowSkips: 0, lateAccepted: 0, results: 0, watermarks: {}, inputWatermarks: {} };
  const emitter: Emitter = {
    result: (r) => { stats.results++; options.onResult(r); },
    late: (l) => {
      stats.late++;
      stats.latePerPipeline[l.pipeline] = (stats.latePerPipeline[l.pipeline] ?? 0) + 1;
      options.onLate(l);
    },
    skipped: () => { stats.lateWindowSkips++; },
    ...(options.onLateAccepted ? { lateAccepted: (l: LateRecord) => { stats.lateAccepted++; options.onLateAccepted!(l); } } : {}),
  };
  const operators: StreamOperator[] = options.pipelines.map((p) => createOperator(p, emitter));
  const guard = new TimeGuard(timeGuardSettings(schema));

  for await (const batch of options.source) {
    const position = { source: batch.source, offset: 0 };
    for (let i = 0; i < batch.lines.length; i++) {
      stats.lines++;
      position.offset = offsetOf(batch, i);
      const admitted = admitLine(schema, guard, batch, i, position);
      if (admitted === null) continue;
      if (!admitted.ok) {
        countDeadLetter(stats, admitted.deadLetter);
        if (admitted.quarantined) stats.quarantined++;
        options.onDeadLetter(admitted.deadLetter);
        continue;
      }
      stats.events++;
      const at = { source: batch.source, offset: position.offset };
      for (const op of operators) op.process(admitted.event, at);
    }
    options.pipelines.forEach((p, i) => { stats.inputWatermarks[p.name] = operators[i]!.watermark; });
    if (options.afterBatch) await options.afterBatch(stats);
  }
  options.pipelines.forEach((p, i) => { stats.inputWatermarks[p.name] = operators[i]!.watermark; });
  if (options.finish ?? true) for (const op of operators) op.finish();
  options.pipelines.forEach((p, i) => { stats.watermarks[p.name] = operators[i]!.watermark; });
  return stats;
}
