import { readArrivalOrder, type ArchivedEvent } from '../batch/archive-reader.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { archivedOffsetRange, sourceFilesAmong } from '../batch/source-files.ts';
import { fieldsRead, type PipelineDefinition, type RulePipeline, type WindowedPipeline } from '../pipeline/definition.ts';
import { compileFilter } from '../pipeline/filter.ts';
import { eventPaneIdOf, eventWindowCellId, paneId } from '../pipeline/keys.ts';
import { isoMillis } from '../pipeline/time.ts';
import { assignWindows } from '../pipeline/windows.ts';
import { positionKey, type KeyValues } from '../schemas/results.ts';
import type { LateEventRef } from './reconcile-report.ts';

/**
 * The archived events the stream never read, which a day's reconcile may find in its cells: those of
 * archive files written after the day's first reconcile (late data archived from a file the stream never
 * read, which a backfill then added to the live version), and those at or past the stream's reach of
 * their source (lines a file appended after the stream read it: store/stream-reach.ts), however many
 * archivings brought them and whether or not one came after a reconcile. Reconciling the day compares
 * the stream's numbers with the whole archive: a cell whose realtime value is what the stream gives over
 * the archive without these events is `archive_added` (reconcile-windowed.ts, reconcile-rule.ts).
 */
export interface ArchiveAdded {
  /** A DuckDB table `(_source, _offset)` of their deliveries. */
  readonly table: string;
  readonly events: readonly ArchivedEvent[];
}

/** How far the stream read each source (offset after the last it read), and the archive files a reconcile looks at for what lies past it. */
export interface BeyondReach {
  readonly reach: ReadonlyMap<string, number>;
  readonly among: readonly string[];
}

/**
 * Reads the events of `files` (archive paths), and those of `beyond.among` at or past the stream's reach
 * of their source, into `archive_added` (each delivery once); undefined when there are none. Of a reached
 * source only the files holding an offset at or past its reach are opened (their names say their offsets).
 */
export async function loadArchiveAdded(db: DuckDb, def: PipelineDefinition, dir: string, files: readonly string[], beyond?: BeyondReach): Promise<ArchiveAdded | undefined> {
  const fields = [...new Set([...fieldsRead(def), def.schema.idField, def.schema.timeField])];
  const events = files.length === 0 ? [] : await readArrivalOrder(dir, def.schema, { db, fields, files });
  const seen = new Set(events.map((e) => positionKey(e.position)));
  for (const [source, next] of beyond?.reach ?? []) {
    const past = sourceFilesAmong(beyond!.among, [source]).filter((f) => (archivedOffsetRange(f)?.last ?? -1) >= next);
    if (past.length === 0) continue;
    for (const e of await readArrivalOrder(dir, def.schema, { db, fields, files: past, where: `_source = ${sqlString(source)} AND _offset >= ${Math.trunc(next)}` })) {
      if (!seen.has(positionKey(e.position))) events.push(e);
      seen.add(positionKey(e.position));
    }
  }
  if (events.length === 0) return undefined;
  await db.createTableFromColumns('archive_added_rows', [
    { name: '_source', type: 'VARCHAR', values: events.map((e) => e.position.source) },
    { name: '_offset', type: 'DOUBLE', values: events.map((e) => e.position.offset) },
  ]);
  await db.run('CREATE OR REPLACE TEMP TABLE archive_added AS SELECT _source, _offset::BIGINT AS _offset FROM archive_added_rows');
  return { table: 'archive_added', events };
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** An archived event as a difference lists it, without W: an added one the stream never read, a quarantined one met none. */
export function addedRef(def: PipelineDefinition, e: ArchivedEvent): LateEventRef {
  return { id: String(e.event[def.schema.idField]), ts: isoMillis(e.event[def.schema.timeField] as number), source: e.position.source, offset: e.position.offset };
}

/** Windows: the added events by the cells (window, key) they fall into. */
export function addedByCell(def: WindowedPipeline, added: ArchiveAdded): Map<string, LateEventRef[]> {
  return eventsByCell(def, added.events);
}

/**
 * Windows: archived events (as differences list them, without W) by the cells (window, key) they fall
 * into: those the pipeline's `where` keeps (one it drops is in no cell: listed, a cell that gained one
 * ride named two), in the windows `inWindow` keeps (default all).
 */
export function eventsByCell(
  def: WindowedPipeline, events: readonly ArchivedEvent[], inWindow: (e: ArchivedEvent, windowStart: number) => boolean = () => true,
): Map<string, LateEventRef[]> {
  const out = new Map<string, LateEventRef[]>();
  const keep = compileFilter(def.where);
  for (const e of events) {
    if (keep !== undefined && !keep(e.event)) continue;
    for (const start of assignWindows(def.window, e.event[def.schema.timeField] as number)) {
      if (!inWindow(e, start)) continue;
      const id = eventWindowCellId(def.schema, start, def.key, e.event);
      let list = out.get(id);
      if (!list) out.set(id, (list = []));
      list.push(addedRef(def, e));
    }
  }
  return out;
}

/**
 * Rules: the added events of an alert's key that can change it, by key: those after `from` (the reach of
 * rule-recompute.ts: one span before its earliest possible predecessor, however far back); without one,
 * every earlier added event of the key.
 */
export function addedNearAlert(def: RulePipeline, added: ArchiveAdded): (key: KeyValues, ts: number, from?: number) => LateEventRef[] {
  return eventsNearAlert(def, added.events);
}

/**
 * Rules: archived events (as differences list them, without W) of an alert's key at or before its time
 * and after `from`; those the rule's `where` keeps (an event it drops changes no alert).
 */
export function eventsNearAlert(def: RulePipeline, events: readonly ArchivedEvent[]): (key: KeyValues, ts: number, from?: number) => LateEventRef[] {
  const byKey = new Map<string, ArchivedEvent[]>();
  const eventPane = eventPaneIdOf(def.schema, [def.key]);
  const keep = compileFilter(def.where);
  for (const e of events) {
    if (keep !== undefined && !keep(e.event)) continue;
    const k = eventPane(e.event);
    let list = byKey.get(k);
    if (!list) byKey.set(k, (list = []));
    list.push(e);
  }
  const tsOf = (e: ArchivedEvent) => e.event[def.schema.timeField] as number;
  return (key, ts, from = Number.NEGATIVE_INFINITY) => (byKey.get(paneId([def.key], key)) ?? []).filter((e) => tsOf(e) <= ts && tsOf(e) > from).map((e) => addedRef(def, e));
}
