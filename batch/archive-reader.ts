import type { AnyEvent, EventSchema } from '../schemas/schema.ts';
import type { EventPosition } from '../schemas/results.ts';
import { partitionGlob } from './archive-layout.ts';
import { DuckDb, quoteIdent, quoteString } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';
import { archiveScan } from './archive-columns.ts';
import type { OpenPart } from './late-candidate-files.ts';

/** The sources (file, topic:partition) an archive holds, for registering them before a shadow run. */
export async function archivedSources(dir: string, schema: EventSchema, db: DuckDb): Promise<string[]> {
  if ((await listArchiveFiles(dir, schema)).length === 0) return [];
  const cols = await db.columns(`SELECT DISTINCT _source FROM read_parquet(${quoteString(partitionGlob(dir, schema))}, hive_partitioning = false) ORDER BY 1`);
  return (cols._source ?? []).map(String);
}

export interface ArchivedEvent {
  readonly event: AnyEvent;
  readonly position: EventPosition;
}

/** The SELECT list of `names` as JS wants them (timestamps as epoch milliseconds). */
function selectList(schema: EventSchema, names: readonly string[]): string {
  return names.map((n) => (schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)}) AS ${quoteIdent(n)}` : quoteIdent(n))).join(', ');
}

/** Events of fetched columns `names` (+ `_source`, `_offset`), one per row; `extra` reads more per row. */
function eventsOf<T>(cols: Record<string, unknown[]>, names: readonly string[], extra: (row: number) => T): (ArchivedEvent & T)[] {
  const n = cols._offset?.length ?? 0;
  const out: (ArchivedEvent & T)[] = new Array(n);
  const columns = names.map((name) => [name, cols[name]!] as const);
  for (let r = 0; r < n; r++) {
    const event: AnyEvent = {};
    for (const [name, values] of columns) {
      const v = values[r];
      if (v !== null && v !== undefined) event[name] = typeof v === 'bigint' ? Number(v) : (v as string | number);
    }
    out[r] = { event, position: { source: String(cols._source![r]), offset: Number(cols._offset![r]) }, ...extra(r) };
  }
  return out;
}

async function withDb<T>(db: DuckDb | undefined, fn: (db: DuckDb) => Promise<T>): Promise<T> {
  const own = db ?? (await DuckDb.open());
  try {
    return await fn(own);
  } finally {
    if (!db) own.close();
  }
}

/**
 * Reads archived events back in arrival order: by ingest time (Kafka record timestamps; one value for a
 * file), then per source by offset. Across Kafka partitions this approximates the order a worker saw.
 * Reconcile uses this to rebuild which events met which watermark; `fields` limits the columns read,
 * `files` the archive files read (default: all of the schema's), `where` (SQL over the archive's
 * columns) the rows.
 */
export async function readArrivalOrder(
  dir: string,
  schema: EventSchema,
  options: { db?: DuckDb; fields?: readonly string[]; files?: readonly string[]; where?: string } = {},
): Promise<ArchivedEvent[]> {
  if (options.files ? options.files.length === 0 : (await listArchiveFiles(dir, schema)).length === 0) return [];
  const names = options.fields ? [...options.fields] : Object.keys(schema.fields);
  return withDb(options.db, async (db) => eventsOf(await db.columns(
    `SELECT ${selectList(schema, names)}, _source, _offset
     FROM ${archiveScan(dir, schema, options.files)}${options.where ? `
     WHERE ${options.where}` : ''}
     ORDER BY _ingest_ts, _source, _offset`,
  ), names, () => ({})));
}

/** An archived event with the W its source (Kafka partition) had before it: max ts - B - 1 over its earlier offsets. */
export interface WatermarkedEvent extends ArchivedEvent {
  readonly watermark: number;
}

/**
 * The archived events that met a W at or above their own time, each with that W: its source's own W
 * before it (bound B), over the source's earlier offsets — everything an event can be late against, per
 * partition (docs/semantics.md, "Over Kafka"). Every other event is on time for every window and rule,
 * so only these reach JS: DuckDB computes each source's running W over the whole archive (a column or
 * three), instead of every event being read back. By source, then offset.
 */
export async function readLateCandidates(
  dir: string,
  schema: EventSchema,
  options: { maxOutOfOrderness: number; db?: DuckDb; fields?: readonly string[]; files?: readonly string[]; open?: readonly OpenPart[] },
): Promise<WatermarkedEvent[]> {
  if ((options.files ?? (await listArchiveFiles(dir, schema))).length === 0) return [];
  const names = [...new Set([...(options.fields ?? Object.keys(schema.fields)), schema.timeField])];
  const ts = `epoch_ms(${quoteIdent(schema.timeField)})`;
  const B = Math.trunc(options.maxOutOfOrderness);
  const open = options.open;
  return withDb(options.db, async (db) => {
    if (open) return eventsWithSeeds(db, dir, schema, names, ts, B, options.files!, open);
    const cols = await db.columns(
      `SELECT ${selectList(schema, names)}, _source, _offset, _w FROM (
         SELECT *, max(${ts}) OVER (PARTITION BY _source ORDER BY _offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${B} - 1 AS _w
         FROM ${archiveScan(dir, schema, options.files)})
       WHERE ${ts} <= _w
       ORDER BY _source, _offset`,
    );
    return eventsOf(cols, names, (r) => ({ watermark: Number(cols._w![r]) }));
  });
}

/**
 * `readLateCandidates` over `files` only (batch/late-candidate-files.ts): the events of the `open` parts
 * (file, source), each W the larger of the running W over `files` and the part's seed (the W of the files
 * wholly before it, from their spans).
 */
async function eventsWithSeeds(
  db: DuckDb, dir: string, schema: EventSchema, names: readonly string[], ts: string, B: number, files: readonly string[], open: readonly OpenPart[],
): Promise<WatermarkedEvent[]> {
  await db.createTableFromColumns('late_open_parts', [
    { name: 'file', type: 'VARCHAR', values: open.map((o) => o.file) },
    { name: 'source', type: 'VARCHAR', values: open.map((o) => o.source) },
    { name: 'seed', type: 'DOUBLE', values: open.map((o) => o.seed) },
  ]);
  const cols = await db.columns(
    `SELECT ${selectList(schema, names)}, _source, _offset, _w FROM (
       SELECT e.*, greatest(coalesce(e._w_read, o.seed), o.seed) AS _w FROM (
         SELECT *, max(${ts}) OVER (PARTITION BY _source ORDER BY _offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${B} - 1 AS _w_read
         FROM ${archiveScan(dir, schema, files, { filename: '_archive_file' })}) e
       JOIN late_open_parts o ON e._archive_file = o.file AND e._source = o.source)
     WHERE ${ts} <= _w
     ORDER BY _source, _offset`,
  );
  return eventsOf(cols, names, (r) => ({ watermark: Number(cols._w![r]) }));
}
