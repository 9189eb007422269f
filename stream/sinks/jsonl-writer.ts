import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArchiveError } from '../../pipeline/errors.ts';

/**
 * Buffered JSON-lines writer. Lines collect in memory and go to disk in large writes;
 * callers `await flush()` at batch boundaries, which also honours back-pressure.
 * Writes to `<path>.tmp` and renames on close, so a reader never sees half a file.
 */
export class JsonlWriter {
  private readonly path: string;
  private stream: WriteStream | undefined;
  private buffer: string[] = [];
  private bytes = 0;
  count = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(value: unknown): void {
    const line = JSON.stringify(value);
    this.buffer.push(line);
    this.bytes += line.length;
    this.count++;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    if (this.stream === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.stream = createWriteStream(`${this.path}.tmp`);
    }
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.bytes = 0;
    const stream = this.stream;
    if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
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
