import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { EventSchema } from '../schemas/schema.ts';
import { fileSourceName, readJsonlFile } from '../sources/jsonl-file.ts';
import type { LineSource } from '../sources/source.ts';
import { schemaDir } from './archive-layout.ts';
import { fileReadOf, planFileRead, recordFileRead, type FileRead } from './file-reads.ts';
import { listArchiveFiles, type ArchiveStats, type ParquetArchive } from './parquet-archive.ts';
import { archivedOffsetRange, sourceFilesAmong } from './source-files.ts';

/** What an archiving of a file did: all its lines, only those it appended since, or nothing. */
export interface FileArchived {
  readonly stats: ArchiveStats;
  readonly kind: 'whole' | 'appended' | 'unchanged';
  /** The lines archived now (offsets, first and last): `appended` only. */
  readonly lines?: { first: number; last: number };
}

/**
 * Archives an input file as a file source that may grow, like a log still being written: the first
 * time whole; after that only the lines it appended since (the archive's `_file_reads.json` holds how
 * far it read, as a Kafka consumer's offset), so the earlier rows and files stay as they were (their
 * ingest time, their files' modification time: reconcile tells the appended events apart as
 * `archive_added`); unchanged, nothing. A file that no longer starts with what was archived of it
 * (edited, truncated, rotated under the same name) is refused (exit 2) unless `replace`, which
 * archives it whole and replaces the source's earlier files (as every rerun did before); so does a file
 * archived under other definitions of its schema, or one whose archived files are gone.
 * A pipe or stdin has no identity across runs: archived whole, replacing, and not recorded.
 */
export async function archiveInputFile(
  archive: ParquetArchive,
  dir: string,
  schema: EventSchema,
  input: string,
  options: { replace?: boolean; wrap?: (source: LineSource) => LineSource } & Parameters<ParquetArchive['write']>[1] = {},
): Promise<FileArchived> {
  const { replace, wrap = (s) => s, ...write } = options;
  const found = await stat(input).catch(() => undefined);
  if (!found?.isFile()) return { kind: 'whole', stats: await archive.write(wrap(readJsonlFile(input)), write) };
  const source = fileSourceName(input);
  const shape = createHash('sha256').update(JSON.stringify({ schema, sketched: archive.sketched })).digest('hex');
  const recorded = replace ? undefined : await recordedRead(dir, schema, source);
  // Under other definitions the file's rows are made again whole (the earlier ones have the old shape).
  const before = recorded?.shape === undefined || recorded.shape === shape ? recorded : undefined;
  const plan = await planFileRead(input, found.size, before);
  if (plan.kind === 'rewritten') {
    throw new ConfigError(
      `${input} was archived as ${source} (${plan.before.lines} lines), and ${plan.reason}: it is not that file grown, and ` +
        'archiving it would mix two files\' lines under one name. To archive it whole again, replacing what was archived of it, ' +
        `run again with --replace (a reconcile of its days then counts every event of it as archived after that reconcile); ` +
        'to keep both, give it a name of its own (e.g. with its date)',
    );
  }
  if (plan.kind === 'unchanged') return { kind: 'unchanged', stats: { events: 0, deadLetters: 0, files: [] } };
  const span = plan.kind === 'appended' ? plan.span : { fromByte: 0, toByte: plan.read.bytes, firstLine: 0 };
  const stats = await archive.write(wrap(readJsonlFile(input, { span })), {
    ...write,
    ...(plan.kind === 'appended' ? { mode: 'extend-source' as const, firstLine: span.firstLine } : {}),
  });
  const written = stats.files.map((f) => relative(schemaDir(dir, schema), f));
  await recordFileRead(dir, schema, source, { ...plan.read, files: [...(plan.kind === 'appended' ? plan.before.files ?? [] : []), ...written], shape });
  return plan.kind === 'appended'
    ? { kind: 'appended', stats, lines: { first: span.firstLine, last: plan.read.lines - 1 } }
    : { kind: 'whole', stats };
}

/**
 * The archive's record of `source`, unless its files say it is stale: one of the files it names is gone,
 * or a file holding lines on both sides of the recorded end was written by a whole archiving the record
 * missed (an older Concord's rerun), so the record no longer says what the archive holds. Then the file
 * is archived whole.
 */
async function recordedRead(dir: string, schema: EventSchema, source: string): Promise<FileRead | undefined> {
  const read = await fileReadOf(dir, schema, source);
  if (read === undefined) return undefined;
  // A file of it gone (moved to _corrupt/ by a read that failed on it, deleted): its events come back only whole.
  for (const file of read.files ?? []) if (!existsSync(join(schemaDir(dir, schema), file))) return undefined;
  for (const file of sourceFilesAmong(await listArchiveFiles(dir, schema), [source])) {
    const range = archivedOffsetRange(file);
    if (range !== undefined && range.first < read.lines && range.last >= read.lines) return undefined;
  }
  return read;
}
