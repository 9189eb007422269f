import { readLateCandidates, type ArchivedEvent, type WatermarkedEvent } from '../batch/archive-reader.ts';
import { ArchiveHours } from '../batch/archive-hours.ts';
import { updateOffsetLedger } from '../batch/archive-offsets.ts';
import { lateCandidateFiles, type OpenPart } from '../batch/late-candidate-files.ts';
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
  return judgeAgainstOwnWatermark(def, withPartitionWatermarks(def, events));
}

/** Each event with its partition's own W before it, per source (sorted) by offset. */
function withPartitionWatermarks(def: PipelineDefinition, events: readonly ArchivedEvent[]): WatermarkedEvent[] {
  const bySource = new Map<string, ArchivedEvent[]>();
  for (const e of events) {
    const list = bySource.get(e.position.source);
    if (list) list.push(e);
    else bySource.set(e.position.source, [e]);
  }
  const B = def.watermark.maxOutOfOrderness;
  const out: WatermarkedEvent[] = [];
  for (const source of [...bySource.keys()].sort()) {
    let w = Number.NEGATIVE_INFINITY;
    for (const e of bySource.get(source)!.sort((a, b) => a.position.offset - b.position.offset)) {
      out.push({ ...e, watermark: w });
      const ts = e.event[def.schema.timeField] as number;
      if (ts - B - 1 > w) w = ts - B - 1;
    }
  }
  return out;
}

/** Judges each event against the W it met (`watermark`), with the operators' predicates (pipeline/lateness.ts). */
function judgeAgainstOwnWatermark(def: PipelineDefinition, events: readonly WatermarkedEvent[]): PartitionJudgement {
  const keep = compileFilter(def.where);
  const L = def.allowedLateness;
  const out: JudgedLate[] = [];
  const skippedWindows: JudgedLate[] = [];
  for (const { event, position, watermark: w } of events) {
    if (keep !== undefined && !keep(event)) continue;
    const ts = event[def.schema.timeField] as number;
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
  return { late: out, skippedWindows };
}

/** The late set of `def` over an archive (its events' partition and offset), without the workers' late log. */
export async function archiveLateSet(dir: string, def: PipelineDefinition, db?: DuckDb): Promise<JudgedLate[]> {
  return (await archiveJudgement(dir, def, db)).late;
}

/**
 * `judgeByPartition` over an archive: DuckDB computes each partition's W and hands over only the events
 * that met a W at or above their time (readLateCandidates: no other event is late for any window or rule).
 * `files`: judge the events of these files only, against the W of these files' events (see `filesFrom`).
 */
export async function archiveJudgement(dir: string, def: PipelineDefinition, db?: DuckDb, files?: readonly string[]): Promise<PartitionJudgement> {
  const plan = files === undefined && db ? await candidateFilesOf(dir, def, db) : undefined;
  const read = files ? { files } : plan ? { files: plan.read, open: plan.open } : {};
  const candidates = await readLateCandidates(dir, def.schema, { maxOutOfOrderness: def.watermark.maxOutOfOrderness, fields: fieldsRead(def), ...(db ? { db } : {}), ...read });
  return judgeAgainstOwnWatermark(def, candidates);
}

/**
 * The whole archive's candidates are in the files the ledger's spans cannot clear (batch/late-candidate-files.ts):
 * those read, not every file. Undefined (every file read) when a file's spans are unknown.
 */
async function candidateFilesOf(dir: string, def: PipelineDefinition, db: DuckDb): Promise<{ read: string[]; open: OpenPart[] } | undefined> {
  const { spans } = await updateOffsetLedger(dir, def.schema, db);
  return spans && lateCandidateFiles(spans, def.watermark.maxOutOfOrderness);
}

/**
 * The files whose events decide which windows ending after `from` skipped an event: those of the hours
 * from `from` on. A window [s, e) with e > from skips an event when its partition's W >= e - 1 + L >= from,
 * and W is the max over earlier events of ts - B - 1: reaching `from` takes an event of time > from, in
 * an hour from `from` on; events of earlier hours stay below `from` and never decide it (nor W's value
 * when it does). So judged over these files, such windows' skips (and the W each met) are the archive's.
 */
export async function filesFrom(dir: string, def: PipelineDefinition, from: number): Promise<string[]> {
  return (await (await ArchiveHours.of(dir, def.schema)).allFrom(from)).flatMap((h) => h.files);
}
