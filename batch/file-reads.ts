import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { EventSchema } from '../schemas/schema.ts';
import type { ByteSpan } from '../sources/jsonl-file.ts';
import { FILE_READS_FILE, schemaDir } from './archive-layout.ts';

/**
 * What the archive read of a file source, by source name, in `<schema>/_file_reads.json`: like a Kafka
 * offset (or Flink's FileSource in continuous mode), the place to go on from when the file grows.
 * `bytes` read, `lines` numbered (the next line's offset), the SHA-256 of those bytes (the next
 * archiving checks the file still starts with them: grown, not rewritten), and whether they ended with
 * a newline (a last line without one may still have been being written).
 */
export interface FileRead {
  readonly bytes: number;
  readonly lines: number;
  readonly sha256: string;
  readonly endsWithNewline: boolean;
  /**
   * The Parquet files written of it, relative to the schema's folder: one missing (moved to `_corrupt/`,
   * deleted) makes the next archiving whole again, which restores its events ("re-archive the source").
   */
  readonly files?: readonly string[];
  /**
   * The hash of what shaped its rows (the schema as defined, the sketched fields): archived under other
   * definitions (a field added, a decimal's scale changed), the next archiving is whole again, as the
   * advice to "archive those sources again" means.
   */
  readonly shape?: string;
}

/**
 * What to archive of a file given what was archived of it:
 * - `whole`: never archived here (or `--replace`): every line, replacing the source's earlier files;
 * - `appended`: it grew: only `span` (the lines after those archived), beside the earlier files;
 * - `unchanged`: nothing new;
 * - `rewritten`: it no longer starts with the bytes archived (edited, truncated, rotated): `reason`.
 * `read` is what the archive holds of the file once this one is written (recorded after it).
 */
export type FilePlan =
  | { kind: 'whole'; read: FileRead }
  | { kind: 'appended'; span: ByteSpan; read: FileRead; before: FileRead }
  | { kind: 'unchanged'; read: FileRead }
  | { kind: 'rewritten'; reason: string; before: FileRead };

/**
 * Plans the archiving of the first `size` bytes of `path` (its size when the run started: lines written
 * while it runs are the next run's) against `before`, what was archived of it. One read of the file.
 */
export async function planFileRead(path: string, size: number, before: FileRead | undefined): Promise<FilePlan> {
  if (before !== undefined && size < before.bytes) {
    return { kind: 'rewritten', before, reason: `it is ${size} bytes long now, ${before.bytes} were archived (truncated, or a new file of the same name)` };
  }
  const whole = createHash('sha256');
  const prefix = before === undefined ? undefined : createHash('sha256');
  let newlines = 0;
  let at = 0;
  let last = -1;
  // The byte after the archived ones: where an archived last line without a newline went on.
  let next = -1;
  if (size > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: size - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      whole.update(chunk);
      if (prefix && before && at < before.bytes) prefix.update(chunk.subarray(0, Math.min(chunk.length, before.bytes - at)));
      if (before && next === -1 && at + chunk.length > before.bytes) next = chunk[before.bytes - at]!;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
      last = chunk[chunk.length - 1]!;
      at += chunk.length;
    }
  }
  // The file's length may have changed under the read: what was read is what counts.
  const endsWithNewline = at === 0 || last === 10;
  const read: FileRead = { bytes: at, lines: newlines + (endsWithNewline ? 0 : 1), sha256: whole.digest('hex'), endsWithNewline };
  if (before === undefined) return { kind: 'whole', read };
  if (prefix!.digest('hex') !== before.sha256) {
    return { kind: 'rewritten', before, reason: `its first ${before.bytes} bytes (the ${before.lines} lines archived) are not what was archived any more` };
  }
  if (at === before.bytes) return { kind: 'unchanged', read };
  if (!before.endsWithNewline && next !== 10) {
    return { kind: 'rewritten', before, reason: `its line ${before.lines - 1} was archived without a newline at its end (being written then) and is longer now` };
  }
  // After a last line that had no newline, the newline that ends it is not a line of its own.
  const fromByte = before.endsWithNewline ? before.bytes : before.bytes + 1;
  return { kind: 'appended', read, before, span: { fromByte, toByte: at, firstLine: before.lines } };
}

/** The archive's record of `source`, if it has one. */
export async function fileReadOf(dir: string, schema: EventSchema, source: string): Promise<FileRead | undefined> {
  return (await readRecord(dir, schema))[source];
}

/** Records what the archive now holds of `source` (after its files are written). */
export async function recordFileRead(dir: string, schema: EventSchema, source: string, read: FileRead): Promise<void> {
  const record = await readRecord(dir, schema);
  record[source] = read;
  await mkdir(schemaDir(dir, schema), { recursive: true });
  const path = join(schemaDir(dir, schema), FILE_READS_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temp, path);
}

async function readRecord(dir: string, schema: EventSchema): Promise<Record<string, FileRead>> {
  const path = join(schemaDir(dir, schema), FILE_READS_FILE);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '{}' : Promise.reject(error)));
  try {
    return JSON.parse(text) as Record<string, FileRead>;
  } catch (error) {
    throw new ConfigError(`${path} is not the JSON this archive keeps (how much of each input file it archived): remove it, then archive each file with --replace`, { cause: error });
  }
}
