import type { AnyEvent, EventSchema } from '../schemas/schema.ts';
import type { EventPosition } from '../schemas/results.ts';
import { partitionGlob } from './archive-layout.ts';
import { DuckDb, quoteIdent, quoteString } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';

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

/**
 * Reads archived events back in arrival order: by ingest time (Kafka record timestamps; one value for a
 * file), then per source by offset. Across Kafka partitions this approximates the order a worker saw.
 * Reconcile uses this to rebuild which events met which watermark; `fields` limits the columns read.
 */
export async function readArrivalOrder(
  dir: string,
  schema: EventSchema,
  options: { db?: DuckDb; fields?: readonly string[] } = {},
): Promise<ArchivedEvent[]> {
  const db = options.db;
  if ((await listArchiveFiles(dir, schema)).length === 0) return [];
  const own = db ?? (await DuckDb.open());
  try {
    const names = options.fields ? [...options.fields] : Object.keys(schema.fields);
    const select = names.map((n) =>
      schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)}) AS ${quoteIdent(n)}` : quoteIdent(n),
    );
    const cols = await own.columns(
      `SELECT ${select.join(', ')}, _source, _offset
       FROM read_parquet(${quoteString(partitionGlob(dir, schema))}, hive_partitioning = false)
       ORDER BY _ingest_ts, _source, _offset`,
    );
    const n = cols._offset?.length ?? 0;
    const out: ArchivedEvent[] = new Array(n);
    const columns = names.map((name) => [name, cols[name]!] as const);
    for (let r = 0; r < n; r++) {
      const event: AnyEvent = {};
      for (const [name, values] of columns) {
        const v = values[r];
        if (v !== null && v !== undefined) event[name] = typeof v === 'bigint' ? Number(v) : (v as string | number);
      }
      out[r] = { event, position: { source: String(cols._source![r]), offset: Number(cols._offset![r]) } };
    }
    return out;
  } finally {
    if (!db) own.close();
  }
}
