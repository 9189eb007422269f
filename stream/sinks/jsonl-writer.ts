import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArchiveError } from '../../pipeline/errors.ts';

/** Bytes of one write to disk (lines go into a buffer of this size as they are written). */
const CHUNK = 1 << 20;
const EMPTY = Buffer.alloc(0);

/**
 * Buffered JSON-lines writer. Each line is encoded into a byte buffer as it is written (no string of the
 * whole chunk to join and encode again: that was ~40% of a results file's cost); full buffers go to disk
 * in large writes; callers `await flush()` at batch boundaries, which also honours back-pressure.
 * Writes to `<path>.tmp` and renames on close, so a reader never sees half a file.
 */
export class JsonlWriter {
  private readonly path: string;
  private stream: WriteStream | undefined;
  /** Encoded lines not yet handed to the stream: full chunks, then the one being filled. */
  private full: Buffer[] = [];
  /** Allocated by the first line that needs it: a writer that gets no line (a dead-letter file) holds none. */
  private chunk = EMPTY;
  private used = 0;
  private bytes = 0;
  count = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(value: unknown): void {
    const line = JSON.stringify(value) ?? ''; // undefined: an empty line, as before
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a line that may not fit starts a new chunk.
    if (this.used + 3 * line.length + 1 > this.chunk.length) {
      if (this.used > 0) this.full.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, 3 * line.length + 1));
      this.used = 0;
    }
    const n = this.chunk.write(line, this.used, 'utf8') + 1;
    this.chunk[this.used + n - 1] = 0x0a;
    this.used += n;
    this.bytes += n;
    this.count++;
  }

  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    if (this.stream === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.stream = createWriteStream(`${this.path}.tmp`);
    }
    const parts = this.used > 0 ? [...this.full, this.chunk.subarray(0, this.used)] : this.full;
    // The stream keeps the buffers until written: the next line starts a fresh chunk.
    this.full = [];
    this.chunk = EMPTY;
    this.used = 0;
    this.bytes = 0;
    const stream = this.stream;
    let ok = true;
    for (const part of parts) ok = stream.write(part) && ok;
    if (!ok) await new Promise<void>((resolve) => stream.once('drain', resolve));
  }

  /** Flushes only when enough is buffered (cheap to call after every batch). */
  async maybeFlush(): Promise<void> {
    if (this.bytes > 1 << 20) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.stream === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.stream = createWriteStream(`${this.path}.tmp`);
    }
    const stream = this.stream;
    await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
    try {
      await rename(`${this.path}.tmp`, this.path);
    } catch (error) {
      throw new ArchiveError(`cannot move ${this.path}.tmp into place`, { cause: error });
    }
  }
}
