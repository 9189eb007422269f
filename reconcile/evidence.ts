import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchivedEvent } from '../batch/archive-reader.ts';
import { blankDir, rejectedDir } from '../batch/archive-layout.ts';
import { archivedOffsetRuns } from '../batch/archive-offsets.ts';
import { quoteIdent, type DuckDb } from '../batch/duckdb.ts';
import { inTimeRanges } from '../batch/replay.ts';
import { listArchiveFiles } from '../batch/parquet-archive.ts';
import { archiveScan } from '../batch/archive-columns.ts';
import type { EventPosition } from '../schemas/results.ts';
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

/** Repeated deliveries, found once per reconciliation and used twice: as evidence, and to deduplicate the replay. */
export interface Duplicates {
  /** Later deliveries of an event id already delivered (arrival order: ingest time, source, offset). */
  readonly deliveries: ArchivedEvent[];
  /**
   * A table `(_source, _offset)` of what a deduplicating replay of `timeRanges` leaves out: the later
   * deliveries among those in the ranges (as `replay({ dedupe, timeRanges })` counts).
   */
  readonly replayExtrasTable: string;
  readonly replayExtras: EventPosition[];
}

const REPLAY_EXTRAS = 'replay_extras';

/**
 * One aggregate over the id column finds the ids delivered more than once; only their deliveries are
 * read (the cost of ranking every row by id once, and it replaces a second ranking inside the
 * deduplicating replay). Fields `fields`, timestamps as epoch ms. `only`: the archive files the replay
 * reads (a rule day's reach; a repeated delivery has its first one's time, so the same hour), default all.
 */
export async function findDuplicates(
  dir: string, schema: EventSchema, db: DuckDb, fields: readonly string[], timeRanges?: readonly { from: number; to: number }[], only?: readonly string[],
): Promise<Duplicates> {
  const names = [...new Set([...fields, schema.idField, schema.timeField])];
  if (only ? only.length === 0 : (await listArchiveFiles(dir, schema)).length === 0) {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${REPLAY_EXTRAS} (_source VARCHAR, _offset BIGINT)`);
    return { deliveries: [], replayExtrasTable: REPLAY_EXTRAS, replayExtras: [] };
  }
  const files = archiveScan(dir, schema, only);
  const id = quoteIdent(schema.idField);
  const select = names.map((n) => (schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)}) AS ${quoteIdent(n)}` : quoteIdent(n)));
  // A repeated id repeats its hash: group the 64-bit hashes (measured, 100M events: 20 s, against 26 s
  // for the strings), then read only the deliveries of repeated hashes and keep the ids really repeated.
  await db.run(`CREATE OR REPLACE TEMP TABLE dup_hashes AS SELECT hash(${id}) AS h FROM ${files} GROUP BY h HAVING count(*) > 1`);
  const candidates = Number((await db.rows('SELECT count(*) AS n FROM dup_hashes'))[0]!.n);
  await db.run(`CREATE OR REPLACE TEMP TABLE dup_deliveries AS
    SELECT ${[...select, '_source', '_offset', '_ingest_ts'].join(', ')} FROM ${files}
    WHERE ${candidates === 0 ? 'false' : `hash(${id}) IN (SELECT h FROM dup_hashes)`}
    QUALIFY count(*) OVER (PARTITION BY ${id}) > 1`);
  const later = `QUALIFY row_number() OVER (PARTITION BY ${id} ORDER BY _ingest_ts, _source, _offset) > 1`;
  const rows = await db.rows(`SELECT ${[...names.map(quoteIdent), '_source', '_offset'].join(', ')} FROM dup_deliveries ${later}`);
  const deliveries = rows.map((r) => {
    const event: Record<string, string | number> = {};
    for (const n of fields) {
      const v = r[n];
      if (v !== null && v !== undefined) event[n] = typeof v === 'bigint' ? Number(v) : (v as string | number);
    }
    return { event, position: { source: String(r._source), offset: Number(r._offset) } };
  });
  const inRanges = timeRanges ? `WHERE ${inTimeRanges(quoteIdent(schema.timeField), timeRanges)}` : '';
  await db.run(`CREATE OR REPLACE TEMP TABLE ${REPLAY_EXTRAS} AS SELECT _source, _offset FROM dup_deliveries ${inRanges} ${later}`);
  const extras = await db.columns(`SELECT _source, _offset FROM ${REPLAY_EXTRAS}`);
  const replayExtras = (extras._source ?? []).map((s, i) => ({ source: String(s), offset: Number(extras._offset![i]) }));
  return { deliveries, replayExtrasTable: REPLAY_EXTRAS, replayExtras };
}

/** The rows of the archive's side files in `folder` (`_rejected/`, `_blank/`: JSON lines), files in name order. */
async function readSideRows<T>(folder: string): Promise<T[]> {
  const files = await readdir(folder).catch(() => [] as string[]);
  const out: T[] = [];
  for (const f of files.filter((name) => name.endsWith('.jsonl')).sort()) {
    for (const line of (await readFile(join(folder, f), 'utf8')).split('\n')) {
      if (line.trim() !== '') out.push(JSON.parse(line) as T);
    }
  }
  return out;
}

export async function readRejected(dir: string, schema: EventSchema): Promise<RejectedRecord[]> {
  const rows = await readSideRows<{ source: string; offset: number; reason: string; raw: string }>(rejectedDir(dir, schema));
  return rows.map((row) => {
    let loose: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(row.raw);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) loose = parsed as Record<string, unknown>;
    } catch {
      loose = null; // bad bytes: nothing to place in a cell
    }
    return { source: row.source, offset: row.offset, reason: row.reason, loose };
  });
}

/**
 * Missing offsets per source between the first and last archived one, rejected records and blank lines
 * excepted. A missing offset's event time is unknown, so every source's whole span counts, not the
 * day's: its archived offsets come from the ledger (batch/archive-offsets.ts), which reads only the
 * files written since it was last brought up to date (before: a bitmap over every offset of the archive,
 * 1.8 s of a 30-day archive's 2.9 s reconcile of one day, docs/benchmarks.md).
 */
export async function findGaps(dir: string, schema: EventSchema, db: DuckDb, rejected: readonly RejectedRecord[]): Promise<Map<string, number>> {
  const gaps = new Map<string, number>();
  // One snapshot of the archive (the files listed once): a live archiver's later files are not half in it.
  const runs = await archivedOffsetRuns(dir, schema, db);
  if (runs.size === 0) return gaps;
  // Offsets the archive saw that hold no event: rejected records and blank lines.
  const seenBySource = new Map<string, number[]>();
  const seen = (source: string, offset: number) => {
    let list = seenBySource.get(source);
    if (!list) seenBySource.set(source, (list = []));
    list.push(offset);
  };
  for (const r of rejected) seen(r.source, r.offset);
  // The offsets of blank lines the archive skipped (batch/archive-layout.ts `blankDir`).
  for (const b of await readSideRows<EventPosition>(blankDir(dir, schema))) seen(b.source, b.offset);
  for (const [source, list] of runs) {
    const first = list[0]![0], last = list.at(-1)![1];
    const distinct = list.reduce((n, [a, b]) => n + b - a + 1, 0);
    const inside = new Set((seenBySource.get(source) ?? []).filter((o) => o > first && o < last)).size;
    const missing = last - first + 1 - distinct - inside;
    if (missing > 0) gaps.set(source, missing);
  }
  return gaps;
}
