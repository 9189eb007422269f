import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';

/** DuckDB's file magic: bytes 8..11 of every database file it writes (after an 8-byte checksum). */
const MAGIC = Buffer.from('DUCK');
const MAGIC_AT = 8;

const statOrUndefined = (path: string): Stats | undefined => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};

/**
 * Checks the path of a `duckdb:<path>` store before DuckDB opens it: a user's mistake is exit 2 with what
 * to do. Without it, DuckDB opened another kind of file (the events' .jsonl named by mistake) as an
 * in-memory database, so a stream "wrote" its results into memory and lost them at exit with status 0; a
 * SQLite file made it download an extension; a directory was "another process may hold it"; a file where
 * a parent directory goes was a stack trace (mkdir EEXIST); an empty file "another process may hold it".
 */
export function checkDuckDbStorePath(path: string, url: string): void {
  const found = statOrUndefined(path);
  if (found?.isDirectory()) throw new ConfigError(`store ${url}: ${path} is a directory: name a DuckDB file, e.g. duckdb:${path.replace(/\/+$/, '')}/store.duckdb`);
  if (found !== undefined) {
    if (!hasDuckDbMagic(path)) {
      const what = found.size === 0 ? 'an empty file' : 'another kind of file';
      throw new ConfigError(`store ${url}: ${path} is not a DuckDB database (${what}): name the store file Concord wrote, or a new file`);
    }
    return;
  }
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    const s = statOrUndefined(p);
    if (s !== undefined) {
      if (!s.isDirectory()) throw new ConfigError(`store ${url}: ${p} is a file, not a directory`);
      return;
    }
    if (dirname(p) === p) return;
  }
}

function hasDuckDbMagic(path: string): boolean {
  const head = Buffer.alloc(MAGIC_AT + MAGIC.length);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return true; // unreadable: DuckDB says why when it opens it
  }
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    return n === head.length && head.subarray(MAGIC_AT).equals(MAGIC);
  } finally {
    closeSync(fd);
  }
}
