import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchivedEvent } from '../batch/archive-reader.ts';
import { partitionGlob, rejectedDir } from '../batch/archive-layout.ts';
import { quoteIdent, quoteString, type DuckDb } from '../batch/duckdb.ts';
import { listArchiveFiles } from '../batch/parquet-archive.ts';
import type { EventSchema } from '../schemas/schema.ts';

/**
 * What the archive itself says about its completeness, gathered once per reconciliation so every
 * difference is checked against evidence instead of guessed: repeated deliveries of one event id,
 * records the pipeline rejected, and offsets that are neither archived nor rejected.
 */
export interface RejectedRecord {
  readonly source: string;
  readonly offset: number;
  readonly reason: string;
  /** The raw record's time field and fields, when it was JSON (a schema violation, not bad bytes). */
  readonly loose: Record<string, unknown> | null;
}

/**
 * Later deliveries of an event id already delivered (arrival order: ingest time, source, offset), with
 * the fields `fields` (timestamps as epoch ms). A query, so nothing but the duplicates reaches JS.
 */
export async function findDuplicateDeliveries(dir: string, schema: EventSchema, db: DuckDb, fields: readonly string[]): Promise<ArchivedEvent[]> {
  if ((await listArchiveFiles(dir, schema)).length === 0) return [];
  const select = fields.map((n) => (schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)}) AS ${quoteIdent(n)}` : quoteIdent(n)));
  const rows = await db.rows(
    `SELECT ${[...select, '_source', '_offset'].join(', ')}
     FROM read_parquet(${quoteString(partitionGlob(dir, schema))}, hive_partitioning = false)
     QUALIFY row_number() OVER (PARTITION BY ${quoteIdent(schema.idField)} ORDER BY _ingest_ts, _source, _offset) > 1`);
  return rows.map((r) => {
    const event: Record<string, string | number> = {};
    for (const n of fields) {
      const v = r[n];
      if (v !== null && v !== undefined) event[n] = typeof v === 'bigint' ? Number(v) : (v as string | number);
    }
    return { event, position: { source: String(r._source), offset: Number(r._offset) } };
  });
}

export async function readRejected(dir: string, schema: EventSchema): Promise<RejectedRecord[]> {
  const folder = rejectedDir(dir, schema);
  const files = await readdir(folder).catch(() => [] as string[]);
  const out: RejectedRecord[] = [];
  for (const f of files.filter((name) => name.endsWith('.jsonl')).sort()) {
    for (const line of (await readFile(join(folder, f), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as { source: string; offset: number; reason: string; raw: string };
      let loose: Record<string, unknown> | null = null;
      try {
        const parsed: unknown = JSON.parse(row.raw);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) loose = parsed as Record<string, unknown>;
      } catch {
        loose = null; // bad bytes: nothing to place in a cell
      }
      out.push({ source: row.source, offset: row.offset, reason: row.reason, loose });
    }
  }
  return out;
}

/** Missing offsets per source between the first and last archived one, rejected records excepted. */
export async function findGaps(dir: string, schema: EventSchema, db: DuckDb, rejected: readonly RejectedRecord[]): Promise<Map<string, number>> {
  const gaps = new Map<string, number>();
  if ((await listArchiveFiles(dir, schema)).length === 0) return gaps;
  const cols = await db.columns(`
    SELECT _source, min(_offset) AS first, max(_offset) AS last, count(DISTINCT _offset) AS n
    FROM read_parquet(${quoteString(partitionGlob(dir, schema))}, hive_partitioning = false) GROUP BY _source`);
  const rejectedBySource = new Map<string, number[]>();
  for (const r of rejected) rejectedBySource.set(r.source, [...(rejectedBySource.get(r.source) ?? []), r.offset]);
  (cols._source ?? []).forEach((s, i) => {
    const source = String(s);
    const first = Number(cols.first![i]), last = Number(cols.last![i]);
    const inside = (rejectedBySource.get(source) ?? []).filter((o) => o > first && o < last).length;
    const missing = last - first + 1 - Number(cols.n![i]) - inside;
    if (missing > 0) gaps.set(source, missing);
  });
  return gaps;
}
