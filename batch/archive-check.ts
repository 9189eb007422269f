import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ConcordError } from '../pipeline/errors.ts';
import type { EventSchema } from '../schemas/schema.ts';
import { schemaDir } from './archive-layout.ts';
import { DuckDb, quoteString } from './duckdb.ts';
import { listArchiveFiles } from './parquet-archive.ts';

/** A file of the archive that is not readable data of its schema. */
export interface CorruptFile {
  readonly file: string;
  readonly reason: string;
  /** Where it was moved: `<dir>/<schema>/_corrupt/...`, out of every read. */
  readonly movedTo: string;
}

export const corruptDir = (dir: string, schema: EventSchema): string => join(schemaDir(dir, schema), '_corrupt');

const MAGIC = Buffer.from('PAR1');

/** Truncated or not Parquet at all: the magic bytes at both ends (8 bytes read, no decoding). */
async function magicProblem(file: string): Promise<string | null> {
  const found = await stat(file).catch((error: NodeJS.ErrnoException) => error);
  if (found instanceof Error) return `cannot be read (${found.code ?? found.message}): a symbolic link to nothing?`;
  const size = found.size;
  if (size < 12) return `${size} bytes: too short for a Parquet file (truncated?)`;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4), tail = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    await fh.read(tail, 0, 4, size - 4);
    if (!head.equals(MAGIC)) return 'no Parquet magic bytes at the start: not a Parquet file';
    if (!tail.equals(MAGIC)) return 'no Parquet magic bytes at the end: truncated';
    return null;
  } finally {
    await fh.close();
  }
}

/**
 * Whether a Parquet file with these columns is an archive file of `schema`: Concord's `_source` and
 * `_offset`, and either the time and id fields or most of the schema's required fields. A file written
 * before the schema's time or id field changed holds the rest of its fields: it is this schema's data
 * (refused by the read, naming the field), never moved out as another schema's, which shares few fields.
 */
export function isArchiveFileOf(columns: ReadonlySet<string>, schema: EventSchema): boolean {
  if (!columns.has('_source') || !columns.has('_offset')) return false;
  if (columns.has(schema.timeField) && columns.has(schema.idField)) return true;
  const required = Object.keys(schema.fields).filter((f) => schema.fields[f]!.required);
  return 2 * required.filter((f) => columns.has(f)).length > required.length;
}

/** A footer that does not decode, or another schema's columns (`isArchiveFileOf`). */
async function footerProblem(db: DuckDb, file: string, schema: EventSchema): Promise<string | null> {
  let names: Set<string>;
  try {
    names = new Set((await db.columns(`SELECT name FROM parquet_schema(${quoteString(file)})`)).name?.map(String) ?? []);
  } catch (error) {
    return `unreadable footer: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
  if (isArchiveFileOf(names, schema)) return null;
  const missing = [schema.timeField, schema.idField, '_source', '_offset'].filter((c) => !names.has(c));
  return `not an archive file of schema ${schema.name}: no column ${missing.join(', ')}`;
}

/**
 * Data pages that do not decode (a disk or copy error inside the file: magic bytes and footer intact),
 * found by hashing every column of every row. Only after a read failed (`deep`): it reads the whole file.
 */
async function dataProblem(db: DuckDb, file: string): Promise<string | null> {
  try {
    await db.columns(`SELECT count(hash(COLUMNS(*))) FROM read_parquet(${quoteString(file)})`);
    return null;
  } catch (error) {
    const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    return `unreadable data: ${message.split('\n')[0]}`;
  }
}

/**
 * Moves the archive's corrupt files (truncated, not Parquet, another schema) to `_corrupt/` with a
 * `.reason` file beside each, so no read ever takes them for data, and returns them for the caller to
 * report by name. The cheap check (magic bytes) runs on every call; the footers and data are read only when
 * `deep` (after DuckDB refused the archive), since that costs a query per file. `only`: these files
 * instead of every file of the schema.
 */
export async function quarantineCorruptFiles(dir: string, schema: EventSchema, options: { deep?: boolean; db?: DuckDb; only?: readonly string[] } = {}): Promise<CorruptFile[]> {
  const out: CorruptFile[] = [];
  const db = options.deep ? (options.db ?? (await DuckDb.open())) : undefined;
  try {
    // `only`: the files a read touches (a rule day's reach), those still there.
    const files = options.only ? options.only.filter((f) => existsSync(f)) : await listArchiveFiles(dir, schema);
    for (const file of files) {
      const reason = (await magicProblem(file)) ?? (db ? (await footerProblem(db, file, schema)) ?? (await dataProblem(db, file)) : null);
      if (reason === null) continue;
      const movedTo = join(corruptDir(dir, schema), relative(schemaDir(dir, schema), file).replace(/[/\\]/g, '__'));
      await mkdir(corruptDir(dir, schema), { recursive: true });
      await rename(file, movedTo);
      await writeFile(`${movedTo}.reason`, `${reason}\n`);
      out.push({ file, reason, movedTo });
    }
  } finally {
    if (db && !options.db) db.close();
  }
  return out;
}

/** Names a file moved out of the archive: a `CorruptArchiveFile` warning on stderr. */
export function warnCorrupt(c: CorruptFile): void {
  process.emitWarning(`archive file ${c.file} is not read: ${c.reason}; moved to ${c.movedTo}`, 'CorruptArchiveFile');
}

/**
 * The files of `_corrupt/` whose event-time hour lies in [from, to): data the archive held and no replay
 * reads, named `dt=YYYY-MM-DD__hour=HH__<file>` by `quarantineCorruptFiles`.
 */
export async function corruptFilesIn(dir: string, schema: EventSchema, range: { from: number; to: number }): Promise<string[]> {
  const names = await readdir(corruptDir(dir, schema)).catch(() => [] as string[]);
  return names.filter((n) => {
    const m = /^dt=(\d{4}-\d{2}-\d{2})__hour=(\d{2})__.*\.parquet$/.exec(n);
    if (!m) return false;
    const hour = Date.parse(`${m[1]}T${m[2]}:00:00Z`);
    return hour + 3_600_000 > range.from && hour < range.to;
  }).map((n) => join(corruptDir(dir, schema), n));
}

/**
 * A day cannot be published: archive files of its hours were corrupt, and a replay without them misses their events.
 * `then`: what to run once the files are back (default: the command again, or `reconcile --date --force`
 * to publish without them); the jobs say their own command (jobs/default-processors.ts).
 */
export class CorruptArchiveDayError extends ConcordError {
  readonly pipeline: string;
  readonly date: string;
  readonly files: readonly string[];
  readonly by: 'reconcile' | 'backfill';
  constructor(pipeline: string, date: string, files: readonly string[], by: 'reconcile' | 'backfill' = 'reconcile', then?: string) {
    super(`${pipeline} ${date}: not published: ${files.length} archive file(s) of the day are corrupt and not read (${files.join(', ')}; the reason in each .reason file), ` +
      'so the replay misses their events. Restore a good copy into its hour folder or re-archive the source, delete the file from _corrupt/, ' +
      `then ${then ?? `run again${by === 'reconcile' ? '; `concord reconcile --date` with --force publishes without them' : ''}`}`, { domain: 'user' });
    this.pipeline = pipeline;
    this.date = date;
    this.files = files;
    this.by = by;
  }
}
