/**
 * The stream's own quarantine verdicts as evidence (and its other dead letters, `rejected`: an event
 * the stream refused for its fields that the archive kept, judged by other definitions, was no more
 * counted by the stream and moved no W either: `parse_reject`). An event the stream held for its time
 * (pipeline/time-guard.ts: `future_timestamp`, its dead letter) was read and counted nowhere, and moved
 * no W. The archive may have counted it all the same: a file streamed first and archived later, when the
 * event's time had come, or an archiver with another max_future_skew. What the stream should have
 * produced is then the archive without those events, and a cell that differs by them alone is
 * `future_timestamp`, naming them (reconcile-windowed.ts, reconcile-rule.ts).
 */
import { readArrivalOrder, type ArchivedEvent } from '../batch/archive-reader.ts';
import { archiveFilesOfEventTimes } from '../batch/archive-layout.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { positionKey, type EventPosition } from '../schemas/results.ts';

/** One event the stream quarantined or rejected (its dead letter's position). */
export interface StreamQuarantine {
  readonly position: EventPosition;
  /**
   * The dead letter's reason when it is no verdict on the event's time (a field the stream's definitions
   * refused: `userId: is required`); absent for `future_timestamp` / `past_horizon`.
   */
  readonly rejected?: string;
  /** The event's time (epoch ms), when the record says: only the archive's hours of these are read. */
  readonly eventTime?: number;
  /** The reference the event time was judged against (epoch ms), when the record says. */
  readonly reference?: number;
}

const HOUR = 3_600_000;

/** The DuckDB table `(_source, _offset)` of the quarantined events the archive holds (the shadows leave them out). */
export const QUARANTINED_TABLE = 'stream_quarantined';

/**
 * The events the stream quarantined that the archive holds (by position: the archive made from what the
 * stream read), in arrival order, loaded into `table` (QUARANTINED_TABLE: the ones the shadows leave out).
 * Positions the archive lacks were quarantined there too (the same verdict): no count differs by them.
 */
export async function quarantinedInArchive(
  db: DuckDb, def: PipelineDefinition, dir: string, verdicts: readonly StreamQuarantine[], table: string = QUARANTINED_TABLE,
): Promise<ArchivedEvent[]> {
  await db.createTableFromColumns(`${table}_rows`, [
    { name: '_source', type: 'VARCHAR', values: verdicts.map((v) => v.position.source) },
    { name: '_offset', type: 'DOUBLE', values: verdicts.map((v) => v.position.offset) },
  ]);
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table} AS SELECT DISTINCT _source, _offset::BIGINT AS _offset FROM ${table}_rows`);
  await db.run(`DROP TABLE ${table}_rows`);
  if (verdicts.length === 0) return [];
  const fields = [...new Set([...fieldsRead(def), def.schema.idField, def.schema.timeField])];
  // The archive is partitioned by event time: with every verdict's time known, only those hours are read.
  const hours = verdicts.every((v) => v.eventTime !== undefined) ? [...new Set(verdicts.map((v) => Math.floor(v.eventTime! / HOUR) * HOUR))] : undefined;
  const files = hours && [...new Set((await Promise.all(hours.map((h) => archiveFilesOfEventTimes(dir, def.schema, { from: h, to: h + HOUR })))).flat())];
  return readArrivalOrder(dir, def.schema, { db, fields, ...(files ? { files } : {}), where: `(_source, _offset) IN (SELECT _source, _offset FROM ${table})` });
}

/**
 * The cause of a cell that differs by events the stream held alone: `future_timestamp` when one was held
 * for its time, `parse_reject` when the stream refused each for its fields and the archive kept it (the
 * definitions' decoding changed between the two: an `alias` added, a field made optional, a unit).
 */
export type HeldCause = (events: readonly EventPosition[]) => 'future_timestamp' | 'parse_reject';

export function heldCauseOf(verdicts: readonly StreamQuarantine[]): HeldCause {
  const rejected = new Set(verdicts.filter((v) => v.rejected !== undefined).map((v) => positionKey(v.position)));
  if (rejected.size === 0) return () => 'future_timestamp';
  return (events) => (events.some((e) => !rejected.has(positionKey(e))) ? 'future_timestamp' : 'parse_reject');
}

/** Whether an archived position is one the stream quarantined. */
export function quarantinedAt(events: readonly ArchivedEvent[]): (position: EventPosition) => boolean {
  const at = new Set(events.map((e) => positionKey(e.position)));
  return (position) => at.has(positionKey(position));
}
