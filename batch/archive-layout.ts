import { readdir } from 'node:fs/promises';
import { basename, dirname, join, normalize, resolve } from 'node:path';
import type { EventSchema } from '../schemas/schema.ts';
import { safeName } from '../pipeline/names.ts';
import { quoteIdent } from './duckdb.ts';

/**
 * The Parquet archive layout, shared by writers and readers:
 *   <dir>/<schema>/dt=YYYY-MM-DD/hour=HH/<source>-<firstOffset>-<lastOffset>.parquet   (event time, UTC)
 *   <dir>/<schema>/_rejected/<source>.jsonl                                            (dead letters)
 *   <dir>/<schema>/_blank/<source>.jsonl                                               (offsets of blank lines)
 *   <dir>/<schema>/_file_reads.json      (bytes and lines archived of each input file: batch/file-reads.ts)
 *   <dir>/<schema>/_offsets/ledger.json   (archived offsets as runs per day folder, spans per file: batch/archive-offsets.ts)
 * (<schema>: the schema's name, made file-safe by `safeName`.)
 * Besides the schema's fields every row keeps `_source`, `_offset` (arrival position), `_ingest_ts`,
 * and for each sketched field `_h_<field>_hi` / `_h_<field>_lo`: the pinned 64-bit hash, so replay
 * builds HyperLogLog registers in plain SQL.
 */
export function schemaDir(dir: string, schema: EventSchema): string {
  return join(dir, safeName(schema.name));
}

/** A schema's day folder (`dt=YYYY-MM-DD`, the date captured) and hour folder inside it (`hour=HH`). */
export const DAY_FOLDER = /^dt=(\d{4}-\d{2}-\d{2})$/;
const HOUR_FOLDER = /^hour=\d{2}$/;
/** Which input each source of a schema's archive was written from (a file's path, a topic's id; beside `_rejected/`, read by batch/archive-sources.ts). */
export const SOURCES_FILE = '_sources.json';
/** How much of each input file was archived, to go on from when it grows (read by batch/file-reads.ts). */
export const FILE_READS_FILE = '_file_reads.json';
/** Each source's decimal scales, as its files were written (read by batch/archive-scales.ts). */
export const SCALES_FILE = '_decimal_scales.json';

/**
 * When `dir` is one schema's folder inside an archive (it holds day folders `dt=YYYY-MM-DD` or the
 * archive's `_sources.json`), or a day or hour folder in it, instead of the archive's root that
 * --archive and replay's --input name: what to say, naming the root to give. It is where the Parquet
 * files are, so a new user points there; "no events of schema S" then advised archiving again, into
 * the wrong folder.
 */
export async function schemaFolderGivenForRoot(dir: string): Promise<string | undefined> {
  let folder = resolve(dir);
  let up = 1;
  while (DAY_FOLDER.test(basename(folder)) || HOUR_FOLDER.test(basename(folder))) {
    folder = dirname(folder);
    up += 1;
  }
  const names = await readdir(folder).catch(() => [] as string[]);
  if (folder === dirname(folder) || !names.some((n) => DAY_FOLDER.test(n) || n === SOURCES_FILE)) return undefined;
  const root = normalize(join(dir, ...Array<string>(up).fill('..')));
  return `${dir} is ${up === 1 ? 'the folder' : 'a folder inside the folder'} of schema "${basename(folder)}" in the archive ${root}: give the archive's root, ${root}`;
}

export function partitionGlob(dir: string, schema: EventSchema): string {
  return join(schemaDir(dir, schema), 'dt=*', 'hour=*', '*.parquet');
}

export function rejectedDir(dir: string, schema: EventSchema): string {
  return join(schemaDir(dir, schema), '_rejected');
}

/**
 * Offsets of a file's blank lines, `{"source", "offset"}` per line: no event and no dead letter (a blank
 * line is skipped by both runtimes), but an offset the archive saw, not a gap (reconcile/evidence.ts).
 */
export function blankDir(dir: string, schema: EventSchema): string {
  return join(schemaDir(dir, schema), '_blank');
}

/** The ledger of archived offsets per source (batch/archive-offsets.ts): what reconcile's gap count reads. */
export function offsetsDir(dir: string, schema: EventSchema): string {
  return join(schemaDir(dir, schema), '_offsets');
}

/**
 * A folder listed less than this after it last changed may change again within its mtime's tick (file
 * times follow a coarse clock: "racy" listings, as git calls them), so an index kept by the folder's
 * mtime (the dead letters' in serve, the ledger of offsets) lists it again next time.
 */
export const RACY_LISTING_MS = 2_000;

const HOUR = 3_600_000;

/**
 * The Parquet files of the schema in the event-time partitions (`dt=D/hour=HH`) whose hour overlaps
 * [from, to) (epoch ms), sorted: the files that may hold events of those times. Reads the listings of
 * the days concerned only (not the whole archive). `first`: stop at the first file found.
 */
export async function archiveFilesOfEventTimes(archiveDir: string, schema: EventSchema, range: { from: number; to: number }, o: { first?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for (let d = Math.floor(range.from / 86_400_000) * 86_400_000; d < range.to; d += 86_400_000) {
    for (const h of await hourFoldersOfDay(schemaDir(archiveDir, schema), d)) {
      if (!(h.start < range.to && h.start + HOUR > range.from)) continue;
      for (const f of await parquetFilesIn(h.path)) {
        out.push(f);
        if (o.first) return out;
      }
    }
  }
  return out;
}

/** The hour folders (`hour=HH`) of the day folder of `day` (epoch ms of its midnight) under a schema's folder, in time order. */
export async function hourFoldersOfDay(root: string, day: number): Promise<{ start: number; path: string }[]> {
  const folder = join(root, `dt=${new Date(day).toISOString().slice(0, 10)}`);
  const out: { start: number; path: string }[] = [];
  for (const name of (await readdir(folder).catch(() => [] as string[])).sort()) {
    const m = /^hour=(\d{2})$/.exec(name);
    if (m) out.push({ start: day + Number(m[1]) * HOUR, path: join(folder, name) });
  }
  return out;
}

/** The Parquet files of one hour folder, sorted, as paths. */
export async function parquetFilesIn(folder: string): Promise<string[]> {
  return (await readdir(folder).catch(() => [] as string[])).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(folder, f));
}

/** True if the archive holds a Parquet file of events that may fall in [from, to) (a directory alone is no data). */
export async function archiveHasEventTimes(archiveDir: string, schema: EventSchema, range: { from: number; to: number }): Promise<boolean> {
  return (await archiveFilesOfEventTimes(archiveDir, schema, range, { first: true })).length > 0;
}

/** The stored hash columns of a sketched field, as names (e.g. for Parquet metadata). */
export const hashColumnNames = (field: string) => ({ hi: `_h_${field}_hi`, lo: `_h_${field}_lo` });

/** The same columns as quoted SQL identifiers (field names come from user definitions). */
export function hashColumns(field: string): { hi: string; lo: string } {
  const { hi, lo } = hashColumnNames(field);
  return { hi: quoteIdent(hi), lo: quoteIdent(lo) };
}

/** A file-name-safe form of a source name (`file:events.jsonl` -> `file_events.jsonl`). */
export function sourceTag(source: string): string {
  return source.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/**
 * The file of a source's dead letters or blank lines (`_rejected/`, `_blank/`): its tag as a JSON-lines
 * name, once (`file:rides.jsonl` -> `file_rides.jsonl`, not `file_rides.jsonl.jsonl` as before).
 */
export function sideFileName(tag: string): string {
  return tag.endsWith('.jsonl') ? tag : `${tag}.jsonl`;
}
