import { accessSync, constants, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { FlagValues } from './args.ts';

/**
 * What a path flag names, checked before a command does any work: a wrong kind of path found after a
 * whole input was processed (a directory named as --output) threw away that work and left a `.tmp`.
 * - `read-file`: an existing file to read (not a directory).
 * - `write-file`: a file to (over)write; not a directory, and no file where its parent directory goes.
 * - `dir`: a directory; it may not exist yet (archives are made by a later step), but it is no file;
 *   `missing` set: it must exist (a command that only reads it), and the message says what to do.
 */
export type PathUse =
  | { readonly kind: 'read-file'; readonly what?: string }
  | { readonly kind: 'write-file' }
  | { readonly kind: 'dir'; readonly ifFile?: string; readonly missing?: string };

const ARCHIVE_IF_FILE = 'name the archive directory (written by `concord archive --dir`)';

/** --archive of a command that only reads the archive (reconcile, backfill, serve): a typo is no empty archive. */
export const READ_ARCHIVE: PathUse = { kind: 'dir', ifFile: ARCHIVE_IF_FILE, missing: 'name the directory `concord archive --dir` wrote' };

/**
 * The path flags every command means the same way; a command's `paths` (CommandSpec) adds or overrides
 * (replay's --input is an archive directory). Flag names, not per-command lists: a new command's
 * --output is checked without anyone remembering to.
 */
export const COMMON_PATH_FLAGS: Readonly<Record<string, PathUse>> = {
  input: { kind: 'read-file', what: 'a JSON-lines file' },
  realtime: { kind: 'read-file', what: 'a JSON-lines file' },
  late: { kind: 'read-file', what: 'a JSON-lines file' },
  config: { kind: 'read-file', what: 'a JSON settings file' },
  definitions: { kind: 'read-file', what: 'a definitions file (JSON, or a .ts/.js module)' },
  output: { kind: 'write-file' },
  'late-output': { kind: 'write-file' },
  'dead-letter': { kind: 'write-file' },
  archive: { kind: 'dir', ifFile: ARCHIVE_IF_FILE },
  dir: { kind: 'dir' },
  'report-dir': { kind: 'dir' },
};

/** The path's kind, undefined when nothing is there; a path that cannot be looked at says why. */
function statOf(path: string, source: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`${source} ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** The nearest existing ancestor of `path`, if it is a file (then nothing can be created under it). */
function fileAncestor(path: string, source: string): string | undefined {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    const s = statOf(p, source);
    if (s) return s.isDirectory() ? undefined : p;
    if (dirname(p) === p) return undefined;
  }
}

/** Checks one path named by `source` (a flag such as `--output`, or an environment variable). */
export function checkPath(source: string, path: string, use: PathUse): void {
  const s = statOf(path, source);
  if (use.kind === 'read-file') {
    if (!s) throw new ConfigError(`${source} ${path}: no such file (looked for ${resolve(path)})`);
    if (s.isDirectory()) throw new ConfigError(`${source} ${path} is a directory: name ${use.what ?? 'a file'}`);
    // /dev/stdin and the like are the process's open descriptors: not checked (as for writing, below).
    if (!IN_PLACE.test(resolve(path))) refuseWithoutAccess(source, path, constants.R_OK, 'this user may not read it');
    return;
  }
  if (s?.isDirectory() && use.kind === 'write-file') throw new ConfigError(`${source} ${path} is a directory: name a file`);
  if (s && !s.isDirectory() && use.kind === 'dir') throw new ConfigError(`${source} ${path} is a file: ${use.ifFile ?? 'name a directory'}`);
  if (!s && use.kind === 'dir' && use.missing !== undefined) throw new ConfigError(`${source} ${path}: no such directory (looked for ${resolve(path)}); ${use.missing}`);
  if (!s) {
    // Nothing can be made under /proc or /sys, and Node's recursive mkdir loops there for ever (a hang at 100% CPU).
    const kernel = /^\/(proc|sys)(\/|$)/.exec(resolve(path));
    if (kernel) throw new ConfigError(`${source} ${path}: /${kernel[1]} is the kernel's, no file can be made there: name a path on a disk`);
    const blocking = fileAncestor(path, source);
    if (blocking) throw new ConfigError(`${source} ${path}: ${blocking} is a file, not a directory`);
  }
  if (use.kind === 'write-file') refuseUnwritable(source, path, s);
}

/** Devices and descriptors: read and written in place, never renamed over (stream/sinks/jsonl-writer.ts). */
const IN_PLACE = /^\/(dev|proc)(\/|$)/;

/**
 * Refuses a path this process may not use as `mode` asks. Without it a file the user cannot read or a
 * directory they cannot write in was found only by the first open, after the definitions and the store
 * were loaded: `stream` and `produce` ended with "failed: Error: EACCES" and exit 1, as a bug would.
 */
function refuseWithoutAccess(source: string, path: string, mode: number, what: string, checked = path): void {
  try {
    accessSync(checked, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`${source} ${path}: ${what} (${code}): change the permissions or name another path`, { cause: error });
  }
}

/**
 * A file to write must be writable where it is written: a device, a pipe or a path under /dev or /proc
 * in place, any other file as `<file>.tmp` renamed in its (real) directory, which may be made under the
 * nearest directory that exists (stream/sinks/jsonl-writer.ts).
 */
function refuseUnwritable(source: string, path: string, s: Stats | undefined): void {
  // /dev/stdout and the like are the process's open descriptors (a pipe another user made, a socket): not checked.
  if (s && IN_PLACE.test(resolve(path))) return;
  const real = s ? realPath(path) : resolve(path);
  if (s && (!s.isFile() || IN_PLACE.test(real))) {
    refuseWithoutAccess(source, path, constants.W_OK, 'this user may not write it');
    return;
  }
  let dir = dirname(real);
  while (!statOf(dir, source) && dirname(dir) !== dir) dir = dirname(dir);
  refuseWithoutAccess(source, path, constants.W_OK | constants.X_OK, `this user may not write in ${dir}`, dir);
}

/** The same file under another name (a link, `./x`): compared by where it really is. */
function sameFile(a: string, b: string): boolean {
  return realPath(a) === realPath(b);
}

/** Where `path` really is (links followed); a path that cannot be followed: as it is named. */
function realPath(path: string): string {
  try { return realpathSync(path); } catch { return resolve(path); }
}

/**
 * `-` as a file flag's value is a standard stream, as for most Unix tools: /dev/stdin for a file to read,
 * /dev/stdout for a file to write (both read and written in place). It was taken as a file named `-`.
 * Standard input read for two flags would be split between them: refused.
 */
export function withStandardStreams(values: FlagValues, uses: Readonly<Record<string, PathUse>> = {}): FlagValues {
  const all = { ...COMMON_PATH_FLAGS, ...uses };
  const dashes = Object.keys(all).filter((flag) => values[flag] === '-');
  const reading = dashes.filter((flag) => all[flag]!.kind === 'read-file');
  if (reading.length > 1) throw new ConfigError(`--${reading.join(' and --')} are both - (standard input): give one of them a file`);
  const out = { ...values };
  for (const flag of dashes) {
    const kind = all[flag]!.kind;
    if (kind === 'read-file') out[flag] = '/dev/stdin';
    else if (kind === 'write-file') out[flag] = '/dev/stdout';
  }
  return out;
}

/**
 * Checks every path flag given to a command: `uses` are its own, over the common ones. A file written
 * that is also read (--output = --input) or written twice is refused: the rename at the end would
 * replace the input, or one output the other (a device such as /dev/null is no such file).
 */
export function checkPathFlags(values: FlagValues, uses: Readonly<Record<string, PathUse>> = {}): void {
  const all = { ...COMMON_PATH_FLAGS, ...uses };
  const given = Object.entries(all).flatMap(([flag, use]) => (typeof values[flag] === 'string' ? [{ flag, path: values[flag], use }] : []));
  for (const g of given) checkPath(`--${g.flag}`, g.path, g.use);
  // A device or a pipe (`/dev/null` for two outputs) is written in place, never renamed over: no clash.
  const written = given.filter((g) => g.use.kind === 'write-file' && statOf(g.path, `--${g.flag}`)?.isFile() !== false);
  for (const [i, w] of written.entries()) {
    const other = given.find((g) => (g.use.kind === 'read-file' || written.indexOf(g) > i) && sameFile(g.path, w.path));
    if (other) throw new ConfigError(`--${w.flag} ${w.path} is also the --${other.flag} file: name another file to write`);
  }
}
