import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ArchiveError, OutputClosedError } from '../../pipeline/errors.ts';

/** Bytes of one write to disk (lines go into a buffer of this size as they are written). */
const CHUNK = 1 << 20;
const EMPTY = Buffer.alloc(0);

/** The `.tmp` files of writers not yet closed or aborted, in this process. */
const unfinished = new Set<string>();

/**
 * Removes the `.tmp` file of every writer still open, at once (synchronously: a command stopped by a
 * signal it leaves to the CLI exits right after, cli/stop-signals.ts). Returns how many there were.
 */
export function removeUnfinishedFiles(): number {
  const count = unfinished.size;
  for (const tmp of unfinished) rmSync(tmp, { force: true });
  unfinished.clear();
  return count;
}

/**
 * Buffered JSON-lines writer. Each line is encoded into a byte buffer as it is written (no string of the
 * whole chunk to join and encode again: that was ~40% of a results file's cost); full buffers go to disk
 * in large writes; callers `await flush()` at batch boundaries, which also honours back-pressure.
 * Writes to `<path>.tmp` and renames on close, so a reader never sees half a file; a write that fails
 * (or is `abort`ed) removes its `.tmp`, so a failed run leaves nothing half-written behind either.
 * A path through a link is written where the link points (the link stays); what is no file to replace
 * (`/dev/null`, `/dev/stdout`, a named pipe) is written in place.
 */
export class JsonlWriter {
  private readonly path: string;
  private stream: WriteStream | undefined;
  /** Where the bytes go (a file's `.tmp`, renamed on close; a device in place; a descriptor). Set by `open`. */
  private target: Target | undefined;
  /** Encoded lines not yet handed to the stream: full chunks, then the one being filled. */
  private full: Buffer[] = [];
  /** Allocated by the first line that needs it: a writer that gets no line (a dead-letter file) holds none. */
  private chunk = EMPTY;
  private used = 0;
  private bytes = 0;
  /** The stream's error (disk full, no permission), raised at the next flush or close. */
  private failure: Error | undefined;
  /** Given up (`abort`): later lines, flushes and closes write nothing (a run stopping while its loop goes on). */
  private aborted = false;
  count = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(value: unknown): void {
    this.append(JSON.stringify(value) ?? '', true); // undefined: an empty line, as before
    this.count++;
  }

  /** Text that is already lines (a report, a JSON document), written as it is. */
  writeText(text: string): void {
    this.append(text, false);
  }

  private append(text: string, newline: boolean): void {
    if (this.aborted) return;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a text that may not fit starts a new chunk.
    if (this.used + 3 * text.length + 1 > this.chunk.length) {
      if (this.used > 0) this.full.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, 3 * text.length + 1));
      this.used = 0;
    }
    let n = this.chunk.write(text, this.used, 'utf8');
    if (newline) this.chunk[this.used + n++] = 0x0a;
    this.used += n;
    this.bytes += n;
  }

  async flush(): Promise<void> {
    if (this.bytes === 0 || this.aborted) return;
    const stream = await this.open();
    if (stream === undefined) return;
    const parts = this.used > 0 ? [...this.full, this.chunk.subarray(0, this.used)] : this.full;
    // The stream keeps the buffers until written: the next line starts a fresh chunk.
    this.full = [];
    this.chunk = EMPTY;
    this.used = 0;
    this.bytes = 0;
    let ok = true;
    for (const part of parts) ok = stream.write(part) && ok;
    // Drained, or failed (then no 'drain' comes; a descriptor's stream, not auto-closed, emits no 'close'
    // either: a reader of /dev/stdout gone left this waiting until Node ended the run with exit 13).
    if (!ok && this.failure === undefined) {
      await new Promise<void>((resolve) => {
        const done = () => { for (const e of ['drain', 'close', 'error'] as const) stream.off(e, done); resolve(); };
        for (const e of ['drain', 'close', 'error'] as const) stream.on(e, done);
      });
    }
    if (this.failure) await this.fail(this.failure);
  }

  /** The output stream (`.tmp` of a file), opened (and its directory made) by the first write; undefined once aborted. */
  private async open(): Promise<WriteStream | undefined> {
    if (this.failure) await this.fail(this.failure);
    if (this.stream !== undefined) return this.stream;
    try {
      await mkdir(dirname(this.path), { recursive: true });
    } catch (error) {
      throw new ArchiveError(`cannot write ${this.path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const target = await targetOf(this.path);
    if (this.aborted) return undefined; // aborted while the directory was made: no .tmp after it
    this.target = target;
    // The process's own descriptor (a socket cannot be opened again by its /proc name): kept open after.
    if ('final' in target) unfinished.add(`${target.final}.tmp`);
    const stream = 'fd' in target ? createWriteStream('', { fd: target.fd, autoClose: false })
      : createWriteStream('final' in target ? `${target.final}.tmp` : target.inPlace);
    // Without a listener a failed open or write is an uncaught 'error' event: kept, raised by flush/close.
    stream.on('error', (error) => { this.failure ??= error; });
    this.stream = stream;
    return stream;
  }

  /** Removes the `.tmp` and throws why the file could not be written. */
  private async fail(error: unknown): Promise<never> {
    await this.abort();
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') throw new OutputClosedError(this.path, { cause: error });
    throw new ArchiveError(`cannot write ${this.path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  /** Gives the file up: nothing is renamed into place, the `.tmp` goes (a run that failed before `close`). */
  async abort(): Promise<void> {
    this.aborted = true;
    const stream = this.stream;
    this.full = [];
    this.chunk = EMPTY;
    this.used = 0;
    this.bytes = 0;
    if (stream !== undefined && !stream.destroyed) await new Promise<void>((resolve) => { stream.once('close', () => resolve()); stream.destroy(); });
    const target = this.target;
    if (stream !== undefined && target !== undefined && 'final' in target) {
      await rm(`${target.final}.tmp`, { force: true }).catch(() => undefined);
      unfinished.delete(`${target.final}.tmp`);
    }
  }

  /** Flushes only when enough is buffered (cheap to call after every batch). */
  async maybeFlush(): Promise<void> {
    if (this.bytes > 1 << 20) await this.flush();
  }

  async close(): Promise<void> {
    if (this.aborted) return;
    await this.flush();
    const stream = await this.open();
    if (stream === undefined) return;
    try {
      await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
      if (this.failure) throw this.failure;
      const target = this.target;
      if (target !== undefined && 'final' in target) {
        await rename(`${target.final}.tmp`, target.final);
        unfinished.delete(`${target.final}.tmp`);
      }
    } catch (error) {
      await this.fail(error);
    }
  }
}

/** Where a writer's bytes go: a file written as `<final>.tmp` and renamed on close, a path written in place, or an open descriptor. */
type Target = { readonly final: string } | { readonly inPlace: string } | { readonly fd: number };

/** `/dev/stdout`, `/dev/fd/2`, `/proc/self/fd/1`: the descriptor they name in this process. */
const OWN_DESCRIPTOR = /^\/(?:dev\/(stdout|stderr)|dev\/fd\/(\d+)|proc\/self\/fd\/(\d+))$/;

/**
 * Where a writer's bytes go. The process's stdout and stderr by name are its open descriptors. A device
 * or a pipe (`/dev/null`, a FIFO), or anything under /dev or /proc, is written in place: a rename would
 * replace the device node, or the file a shell redirected stdout to under the process's descriptor. A
 * link is followed, so the rename replaces the file it points to, not the link.
 */
async function targetOf(path: string): Promise<Target> {
  const own = OWN_DESCRIPTOR.exec(resolve(path));
  if (own) return { fd: own[1] === 'stdout' ? 1 : own[1] === 'stderr' ? 2 : Number(own[2] ?? own[3]) };
  const found = await stat(path).catch(() => undefined);
  if (found === undefined) return { final: path };
  const real = await realpath(path).catch(() => path);
  if (!found.isFile() || /^\/(dev|proc)\//.test(real) || /^\/(dev|proc)\//.test(resolve(path))) return { inPlace: path };
  return { final: real };
}

/** Writes `text` as the whole file at `path` the way a writer does: `<path>.tmp`, renamed when complete. */
export async function writeTextFile(path: string, text: string): Promise<void> {
  const out = new JsonlWriter(path);
  out.writeText(text);
  await out.close();
}
