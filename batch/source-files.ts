import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceTag } from './archive-layout.ts';

/*
 * The names of a file source's files in the archive: its Parquet files `<tag>-<first>-<last>.parquet`
 * and its side files (`_rejected/`, `_blank/`), whose lines appended by a grown file are kept apart.
 */

/** The Parquet files of `sources` among an archive's `files` (paths). */
export function sourceFilesAmong(files: readonly string[], sources: readonly string[]): string[] {
  const prefixes = [...new Set(sources)].map((s) => `${sourceTag(s)}-`);
  return files.filter((file) => {
    const name = file.slice(file.lastIndexOf('/') + 1);
    return prefixes.some((p) => name.startsWith(p) && /^\d+-\d+\.parquet$/.test(name.slice(p.length)));
  });
}

/** The offsets a file source's Parquet file holds, from its name (`<tag>-<first>-<last>.parquet`). */
export function archivedOffsetRange(file: string): { first: number; last: number } | undefined {
  const m = /-(\d+)-(\d+)\.parquet$/.exec(file);
  return m ? { first: Number(m[1]), last: Number(m[2]) } : undefined;
}

/** The name of a file source's side files (`_rejected/`, `_blank/`): appended lines' of their own. */
export function sideTag(source: string, options: { mode?: string; firstLine?: number }): string {
  return options.mode === 'extend-source' ? `${sourceTag(source)}${APPENDED}${options.firstLine ?? 0}` : sourceTag(source);
}

const APPENDED = '-from-line-';

/** Removes the side files of the lines a source appended (`<tag>-from-line-N.jsonl`) from `dir`. */
export async function removeAppendedSideFiles(dir: string, tag: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(`${tag}${APPENDED}`)) await rm(join(dir, name), { force: true });
  }
}

