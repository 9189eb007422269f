import { readArrivalOrder, type ArchivedEvent } from '../batch/archive-reader.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { compileFilter } from '../pipeline/filter.ts';
import { isBeyondLateness, isDecided, isLateForWindow } from '../pipeline/lateness.ts';
import { assignWindows, windowEnd } from '../pipeline/windows.ts';
import type { EventPosition } from '../schemas/results.ts';
import type { AnyEvent } from '../schemas/schema.ts';

/** One event the stream judged late, rebuilt from its partition's order alone. */
export interface JudgedLate {
  readonly event: AnyEvent;
  readonly position: EventPosition;
  /** Its partition's own W before it: what it was judged against. */
  readonly watermark: number;
  /** A rule event late within L (evaluated once on arrival); false: dropped to the late output. */
  readonly evaluatedOnArrival: boolean;
  /** Windowed pipelines: the last window the event was late for (what a worker's late record names). */
  readonly window?: { readonly start: number; readonly end: number };
}

/** What the stream decided per partition: the late set, and the windows that skipped an event other windows took. */
export interface PartitionJudgement {
  readonly late: JudgedLate[];
  /**
   * Hopping windows: an event late for some of its windows only is not a late event (the others count it,
   * as in Flink, and nothing is logged), but each window that skipped it differs from the replay; `window`
   * names that window.
   */
  readonly skippedWindows: JudgedLate[];
}

/**
 * The stream's late set, rebuilt the way the workers decide it (docs/semantics.md, "Over Kafka"): each
 * event is judged against its own partition's W (max over the partition's earlier events of ts - B - 1),
 * which depends on nothing but the partition's order, i.e. on offsets. So the archive's `_source` and
 * `_offset` are enough, whatever the workers' fetch interleaving, kills or rebalances were. Events
 * `where` drops are never late but move W, like every valid event. Returned per source, by offset.
 */
export function lateSetByPartition(def: PipelineDefinition, events: readonly ArchivedEvent[]): JudgedLate[] {
  return judgeByPartition(def, events).late;
}

/** `lateSetByPartition`, with the windows that skipped an event they alone were late for. */
export function judgeByPartition(def: PipelineDefinition, events: readonly ArchivedEvent[]): PartitionJudgement {
  const bySource = new Map<string, ArchivedEvent[]>();
  for (const e of events) {
    const list = bySource.get(e.position.source);
    if (list) list.push(e);
    else bySource.set(e.position.source, [e]);
  }
  const keep = compileFilter(def.where);
  const B = def.watermark.maxOutOfOrderness;
  const L = def.allowedLateness;
  const out: JudgedLate[] = [];
  const skippedWindows: JudgedLate[] = [];
  for (const source of [...bySource.keys()].sort()) {
    const ordered = bySource.get(source)!.sort((a, b) => a.position.offset - b.position.offset);
    let w = Number.NEGATIVE_INFINITY;
    for (const { event, position } of ordered) {
      const ts = event[def.schema.timeField] as number;
      if (keep === undefined || keep(event)) {
        if (def.kind === 'windowed') {
          const starts = assignWindows(def.window, ts);
          const late = starts.filter((start) => isLateForWindow(windowEnd(def.window, start), L, w));
          if (late.length === starts.length) {
            const last = starts.at(-1);
            const end = last === undefined ? 0 : windowEnd(def.window, last); // as the operator names it
            out.push({ event, position, watermark: w, evaluatedOnArrival: false, window: { start: end - def.window.size, end } });
          } else {
            for (const start of late) skippedWindows.push({ event, position, watermark: w, evaluatedOnArrival: false, window: { start, end: windowEnd(def.window, start) } });
          }
        } else if (isDecided(ts, w)) {
          out.push({ event, position, watermark: w, evaluatedOnArrival: !isBeyondLateness(ts, L, w) });
        }
      }
      if (ts - B - 1 > w) w = ts - B - 1;
    }
  }
  return { late: out, skippedWindows };
}

/** The late set of `def` over an archive (its events' partition and offset), without the workers' late log. */
export async function archiveLateSet(dir: string, def: PipelineDefinition, db?: DuckDb): Promise<JudgedLate[]> {
  return (await archiveJudgement(dir, def, db)).late;
}

/** `judgeByPartition` over an archive. */
export async function archiveJudgement(dir: string, def: PipelineDefinition, db?: DuckDb): Promise<PartitionJudgement> {
  const fields = [...new Set([...fieldsRead(def), def.schema.timeField])];
  return judgeByPartition(def, await readArrivalOrder(dir, def.schema, { ...(db ? { db } : {}), fields }));
}
