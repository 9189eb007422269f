import type { EventSchema } from '../schemas/schema.ts';
import { archiveScan } from './archive-columns.ts';
import { DuckDb, quoteIdent } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';

/** Event ids the archive holds more than once, and the deliveries beyond each id's first. */
export interface RepeatedIds {
  readonly ids: number;
  readonly extraDeliveries: number;
}

/**
 * How many event ids of the schema the archive holds more than once (a producer's re-send, a source
 * archived twice). `concord replay` counts every delivery, as the stream does, while reconcile, backfill
 * and the stored next-day numbers count each id once: the count says when the two differ.
 */
export async function countRepeatedIds(dir: string, schema: EventSchema): Promise<RepeatedIds> {
  if ((await listArchiveFiles(dir, schema)).length === 0) return { ids: 0, extraDeliveries: 0 };
  const db = await DuckDb.open();
  try {
    const [row] = await db.rows(`SELECT count(*) AS ids, coalesce(sum(n - 1), 0) AS extra FROM (
      SELECT count(*) AS n FROM ${archiveScan(dir, schema)} GROUP BY ${quoteIdent(schema.idField)} HAVING count(*) > 1)`);
    return { ids: Number(row?.ids ?? 0), extraDeliveries: Number(row?.extra ?? 0) };
  } finally {
    db.close();
  }
}
