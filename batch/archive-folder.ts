import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ArchiveError } from '../pipeline/errors.ts';

/**
 * Makes an archive folder (and its parents). A file where one of them should be made mkdir fail with a
 * raw `EEXIST: file already exists, mkdir '.../hour=12'` (or ENOTDIR for a parent): said instead as
 * what is wrong and what to do, naming the file.
 */
export async function makeArchiveFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw error;
    const file = await fileOnPath(path);
    if (file === undefined) throw error;
    throw new ArchiveError(`${file} is a file where the archive needs a folder: move it out of the archive directory (it is not read as archive data), then run again`, { cause: error });
  }
}

/** The first path on the way to `path` (itself included) that exists and is no folder. */
async function fileOnPath(path: string): Promise<string | undefined> {
  const chain: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of chain) {
    const s = await stat(p).catch(() => undefined);
    if (s === undefined) return undefined;
    if (!s.isDirectory()) return p;
  }
  return undefined;
}
