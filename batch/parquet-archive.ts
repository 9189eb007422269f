import { randomUUID } from 'node:crypto';
import { mkdir, readdir, realpath, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveError, ConcordError, ConfigError } from '../pipeline/errors.ts';
import { makeArchiveFolder } from './archive-folder.ts';
import { archivedOffsetRange, removeAppendedSideFiles, sideTag, sourceFilesAmong } from './source-files.ts';
import { recordDecimalScales } from './archive-scales.ts';
import { envNumber } from '../pipeline/env-number.ts';
import { hash64Into } from '../pipeline/hash.ts';
import { shellWord } from '../pipeline/names.ts';
import { utcPartition } from '../pipeline/time.ts';
import { TimeGuard, timeGuardSettings } from '../pipeline/time-guard.ts';
import { admitLine, deadLetterToJson } from '../schemas/decode.ts';
import { duckdbType, type AnyEvent, type EventSchema, type FieldKind } from '../schemas/schema.ts';
import { offsetOf, type LineSource } from '../sources/source.ts';
import { JsonlWriter } from '../stream/sinks/jsonl-writer.ts';
import { blankDir, hashColumns, partitionGlob, rejectedDir, schemaDir, schemaFolderGivenForRoot, sideFileName, sourceTag } from './archive-layout.ts';
import { DuckDb, quoteIdent, quoteString } from './duckdb.ts';

const HOUR = 3_600_000;

/**
 * Memory of the staging table (MB, env CONCORD_ARCHIVE_MEMORY_MB): the input is staged whole before its
 * hours are written, and what does not fit goes to <dir>/.tmp/ (without a limit, 5M clicks took 2.2 GB).
 */
function stagingMemoryMb(): number {
  return envNumber('CONCORD_ARCHIVE_MEMORY_MB', 1024, { integer: true, min: 16, unit: 'MB' });
}

export interface ArchiveStats {
  events: number;
  deadLetters: number;
  files: string[];
}

/**
 * Writes every valid event (late ones included: lateness is a stream notion, the archive keeps all)
 * into Parquet partitioned by event time. Each partition file is written to a temp name and renamed,
 * and its name is derived from (source, offset range), so rerunning the same input replaces files
 * instead of duplicating rows.
 */
export class ParquetArchive {
  private readonly dir: string;
  private readonly schema: EventSchema;
  /** The fields hashed beside their values (what the archive's files hold besides the schema's fields). */
  readonly sketched: readonly string[];

  /**
   * `sketched`: the fields whose pinned hash is stored next to them (`Registry.sketchedFields`), so the
   * replay builds HyperLogLog registers in plain SQL; a field sketched later is hashed at replay time.
   */
  constructor(dir: string, schema: EventSchema, options: { sketched?: readonly string[] } = {}) {
    this.dir = dir;
    this.schema = schema;
    this.sketched = options.sketched ?? [];
  }

  /**
   * `mode: 'replace-source'` (files): the input is a whole source; its earlier files are replaced.
   * `mode: 'extend-source'` (a grown file): the input is the lines a file source appended since it was
   * archived, from line `firstLine`; its files are named as a whole source's (their offsets follow the
   * earlier ones'), the earlier files stay as they are (their rows keep their ingest time), and files of
   * offsets from `firstLine` on (an archiving of the same lines stopped before its end) are replaced.
   * `mode: 'append'` (Kafka): the input is the next slice of a source; every file of it is named
   * `<stem>.parquet` (and `<stem>.jsonl` for rejects), and nothing else is touched.
   */
  async write(
    source: LineSource,
    options: {
      ingestTime?: number;
      /** Events staged so far, after each input batch. */
      onProgress?: (events: number) => void;
      /** Once the input is staged: Parquet files written of the files to write, from 0 and after each. */
      onFiles?: (written: number, files: number) => void;
      mode?: 'replace-source' | 'extend-source' | 'append';
      stem?: string;
      /** With `extend-source`: the first appended line's offset. */
      firstLine?: number;
    } = {},
  ): Promise<ArchiveStats> {
    const schema = this.schema;
    const names = Object.keys(schema.fields);
    const sketched = [...this.sketched];
    const kinds = Object.fromEntries(names.map((n) => [n, schema.fields[n]!.kind]));
    // This write's own folder under <dir>/.tmp: the staging's spill and the Parquet files before their rename.
    const work = join(this.dir, '.tmp', randomUUID());
    const memoryLimit = `${stagingMemoryMb()}MB`;
    let db: DuckDb | undefined;
    const stats: ArchiveStats = { events: 0, deadLetters: 0, files: [] };
    let ingest = options.ingestTime ?? Date.now();
    let rejected: JsonlWriter | undefined;
    let blank: JsonlWriter | undefined;
    let sourceName: string | undefined;
    // The input is a whole source (its earlier files replaced), not appended lines nor a Kafka slice.
    const wholeSource = options.mode === undefined || options.mode === 'replace-source';
    try {
      await makeArchiveFolder(work);
      db = await DuckDb.open(':memory:', { memoryLimit, tempDirectory: join(work, 'staging') });
      const columns = [
        ...names.map((n) => `${quoteIdent(n)} ${schema.fields[n]!.kind === 'timestamp' ? 'BIGINT' : duckdbType(schema.fields[n]!.kind)}`),
        ...sketched.flatMap((f) => [`${hashColumns(f).hi} UINTEGER`, `${hashColumns(f).lo} UINTEGER`]),
        '_source VARCHAR', '_offset BIGINT', '_ingest BIGINT',
      ];
      await db.run(`CREATE TABLE staging (${columns.join(', ')})`);
      const appender = await db.appender('staging');
      const hash = new Uint32Array(2);
      // The same judgement as the stream's (the record timestamp, else this input's progress): what the
      // stream quarantined never reaches the archive's data, so the replay leaves it out too.
      const guard = new TimeGuard(timeGuardSettings(schema));
      for await (const batch of source) {
        if (sourceName === undefined) {
          sourceName = batch.source;
          // A file archived again keeps its place in arrival order (the replay's first delivery of an id,
          // reconcile's arrival order): with the rerun's own time it moved after every other source.
          if (wholeSource && options.ingestTime === undefined) ingest = (await this.earlierIngestTime(db, sourceName)) ?? ingest;
        }
        for (let i = 0; i < batch.lines.length; i++) {
          const position = { source: batch.source, offset: offsetOf(batch, i) };
          const admitted = admitLine(schema, guard, batch, i, position);
          if (admitted === null) {
            blank ??= new JsonlWriter(join(blankDir(this.dir, schema), sideFileName(options.stem ?? sideTag(batch.source, options))));
            blank.write(position);
            continue;
          }
          if (!admitted.ok) {
            stats.deadLetters++;
            rejected ??= new JsonlWriter(join(rejectedDir(this.dir, schema), sideFileName(options.stem ?? sideTag(batch.source, options))));
            rejected.write(deadLetterToJson(admitted.deadLetter, schema.name));
            continue;
          }
          this.appendEvent(appender, admitted.event, names, kinds, sketched, hash);
          appender.appendVarchar(position.source);
          appender.appendBigInt(BigInt(position.offset));
          appender.appendBigInt(BigInt(batch.ingestTimes?.[i] ?? ingest));
          appender.endRow();
          stats.events++;
        }
        options.onProgress?.(stats.events);
      }
      appender.closeSync();
      await rejected?.close();
      await blank?.close();
      // A source archived again replaces its dead letters and blank lines too (none now: none kept), and
      // drops those an older Concord named `<tag>.jsonl` beside the name it writes now.
      if (options.mode !== 'append' && options.stem === undefined && sourceName !== undefined) {
        const tag = sideTag(sourceName, options);
        const older = `${tag}.jsonl`;
        for (const [dir, written] of [[rejectedDir(this.dir, schema), rejected], [blankDir(this.dir, schema), blank]] as const) {
          if (!written) await rm(join(dir, sideFileName(tag)), { force: true });
          if (older !== sideFileName(tag)) await rm(join(dir, older), { force: true });
          // A whole source replaces the side files of lines it appended since, too.
          if (options.mode !== 'extend-source') await removeAppendedSideFiles(dir, sourceTag(sourceName));
        }
      }
      const extend = options.mode === 'extend-source' ? (options.firstLine ?? 0) : undefined;
      stats.files = await this.writePartitions(db, work, names, sketched, options.mode === 'append' ? (options.stem ?? 'part') : undefined, options.onFiles, extend);
      if (sourceName !== undefined && stats.files.length > 0) await recordDecimalScales(this.dir, schema, sourceName, wholeSource);
      return stats;
    } catch (error) {
      if (error instanceof ConcordError) throw error;
      throw new ArchiveError(`archiving ${sourceName ?? 'input'} into ${this.dir} failed`, { cause: error });
    } finally {
      db?.close();
      // A failed write (disk full, a path that cannot be made) takes its half-written files with it.
      await rm(work, { recursive: true, force: true });
      // The shared parent too, once no other writer uses it (an archive directory holds only the archive).
      await rmdir(join(this.dir, '.tmp')).catch(() => undefined);
    }
  }

  private appendEvent(
    appender: Awaited<ReturnType<DuckDb['appender']>>,
    event: AnyEvent,
    names: string[],
    kinds: Readonly<Record<string, FieldKind>>,
    sketched: string[],
    hash: Uint32Array,
  ): void {
    for (const name of names) {
      const value = event[name];
      if (value === undefined) appender.appendNull();
      else if (typeof value === 'string') appender.appendVarchar(value);
      else if (typeof value === 'boolean') appender.appendBoolean(value);
      else if (kinds[name] === 'double') appender.appendDouble(value);
      else appender.appendBigInt(BigInt(value));
    }
    for (const f of sketched) {
      const value = event[f];
      if (value === undefined) {
        appender.appendNull();
        appender.appendNull();
      } else {
        hash64Into(String(value), hash);
        appender.appendUInteger(hash[0]!);
        appender.appendUInteger(hash[1]!);
      }
    }
  }

  private async writePartitions(
    db: DuckDb, work: string, names: string[], sketched: string[], stem?: string, onFiles?: (written: number, files: number) => void, extendFrom?: number,
  ): Promise<string[]> {
    const schema = this.schema;
    const ts = quoteIdent(schema.timeField);
    const groups = await db.rows(
      `SELECT ${ts} // ${HOUR} AS h, _source, min(_offset) AS lo, max(_offset) AS hi FROM staging GROUP BY ALL ORDER BY ALL`,
    );
    const select = [
      ...names.map((n) =>
        schema.fields[n]!.kind === 'timestamp' ? `epoch_ms(${quoteIdent(n)})::TIMESTAMP_MS AS ${quoteIdent(n)}` : quoteIdent(n),
      ),
      ...sketched.flatMap((f) => [hashColumns(f).hi, hashColumns(f).lo]),
      '_source', '_offset', 'epoch_ms(_ingest)::TIMESTAMP_MS AS _ingest_ts',
    ].join(', ');
    const tmpDir = join(work, 'parquet');
    await mkdir(tmpDir, { recursive: true });
    const files: string[] = [];
    onFiles?.(0, groups.length);
    for (const g of groups) {
      const hourStart = Number(g.h) * HOUR;
      const { dt, hour } = utcPartition(hourStart);
      const source = String(g._source);
      const partDir = join(schemaDir(this.dir, schema), `dt=${dt}`, `hour=${hour}`);
      const finalPath = join(partDir, `${stem ?? `${sourceTag(source)}-${g.lo}-${g.hi}`}.parquet`);
      const tmpPath = join(tmpDir, `${randomUUID()}.parquet`);
      await db.run(
        `COPY (SELECT ${select} FROM staging WHERE ${ts} >= ${hourStart} AND ${ts} < ${hourStart + HOUR} AND _source = ${quoteString(source)} ORDER BY _offset)
         TO ${quoteString(tmpPath)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await makeArchiveFolder(partDir);
      await rename(tmpPath, finalPath);
      files.push(finalPath);
      onFiles?.(files.length, groups.length);
    }
    if (stem === undefined) await this.removeSuperseded(groups.map((g) => String(g._source)), files, extendFrom);
    return files;
  }

  /** The ingest time `source`'s files already in the archive carry (its first archiving), if any are readable. */
  private async earlierIngestTime(db: DuckDb, source: string): Promise<number | undefined> {
    const files = await this.filesOf([source]);
    if (files.length === 0) return undefined;
    const [row] = await db.rows(`SELECT epoch_ms(min(_ingest_ts)) AS t FROM read_parquet([${files.map(quoteString).join(', ')}])`).catch(() => []);
    return row?.t === null || row?.t === undefined ? undefined : Number(row.t);
  }

  /** The files a file source's earlier archiving wrote (`<tag>-<first>-<last>.parquet`). */
  private async filesOf(sources: readonly string[]): Promise<string[]> {
    return sourceFilesAmong(await listArchiveFiles(this.dir, this.schema), sources);
  }

  /**
   * Re-archiving a source replaces its earlier files (`--replace`, a file archived before its reads were
   * recorded): drop those not rewritten now. Appended lines (`extendFrom`) replace only files that start
   * at or after their first line.
   */
  private async removeSuperseded(sources: string[], written: string[], extendFrom?: number): Promise<void> {
    const keep = new Set(written);
    for (const file of await this.filesOf(sources)) {
      if (keep.has(file)) continue;
      if (extendFrom !== undefined && (archivedOffsetRange(file)?.first ?? -1) < extendFrom) continue;
      await rm(file, { force: true });
    }
  }
}

/** Lists archive Parquet files of a schema (for diagnostics and tests). */
export async function listArchiveFiles(dir: string, schema: EventSchema): Promise<string[]> {
  const root = schemaDir(dir, schema);
  const out: string[] = [];
  // Folders walked, by real path: a link to a folder above would otherwise be walked for ever.
  const seen = new Set<string>();
  const walk = async (d: string) => {
    const real = await realpath(d).catch(() => undefined);
    if (real === undefined || seen.has(real)) return;
    seen.add(real);
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      // DuckDB's glob reads through symbolic links, so the listing does too (a link to a corrupt file was
      // read, failed the replay with a stack, and was never checked); a link to nothing is listed, for the
      // check to move it out.
      const kind = e.isSymbolicLink() ? await stat(path).catch(() => 'dangling' as const) : e;
      if (kind === 'dangling') {
        if (e.name.endsWith('.parquet')) out.push(path);
      } else if (kind.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.')) await walk(path);
      else if (kind.isFile() && e.name.endsWith('.parquet')) out.push(path);
    }
  };
  await walk(root);
  return out.sort();
}

/**
 * The user's error when `dir` holds no archived event of the schema (most often a mistyped --archive):
 * reconciling realtime rows against nothing blamed every cell, or failed on DuckDB's empty glob.
 */
export async function requireArchive(dir: string, schema: EventSchema): Promise<void> {
  if ((await listArchiveFiles(dir, schema)).length > 0) return;
  const slip = await schemaFolderGivenForRoot(dir);
  if (slip !== undefined) throw new ConfigError(`no archive to read: ${slip}`);
  const where = (await stat(dir).catch(() => undefined)) === undefined ? `${dir} does not exist` : `${dir} holds no Parquet file of schema ${schema.name} (${partitionGlob(dir, schema)})`;
  throw new ConfigError(`no archive to read: ${where}; write it with \`concord archive --schema ${shellWord(schema.name)} --dir ${shellWord(dir)}\`, or check --archive / --input`);
}
