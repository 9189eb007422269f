import { closeSync, openSync, readSync } from 'node:fs';
import { ConfigError } from '../pipeline/errors.ts';

/**
 * A DuckDB store file that was damaged (cut short by a full disk or a copy that stopped, overwritten in
 * part). DuckDB opens a truncated file whose catalog is intact and fails only at the first read of a
 * missing block: `report` then exited 1 with DuckDB's `IO Error: Could not read enough bytes from file`,
 * and a `sink` with nothing new to write wrote a checkpoint into it and exited 0 (found 2026-12-07). The
 * store cannot be repaired in place; what to do is the same for every damage.
 */
export const DAMAGED_STORE_ADVICE = 'restore the file from a backup, or move it aside and rebuild the store from the ' +
  'results topic and the archive (docs/operations.md, "Recovering: the store was lost")';

/** DuckDB's words for a file it cannot read back (truncated, or a block whose checksum fails). */
const DAMAGED_TEXT = /Could not read enough bytes from file|Corrupt database file|does not match (the )?stored checksum|Failed to load metadata pointer/i;

export function isDamagedDuckDbText(message: string): boolean {
  return DAMAGED_TEXT.test(message);
}

export function damagedStoreError(path: string, why: string, cause?: unknown): ConfigError {
  return new ConfigError(`the DuckDB store ${path} is damaged (${why}): ${DAMAGED_STORE_ADVICE}`, cause === undefined ? {} : { cause });
}

/** DuckDB's file layout (storage version 64, DuckDB 1.x): a main header, then two database headers, then blocks. */
const HEADER_BYTES = 4096;
const STORAGE_VERSION = 64n;
const DATABASE_HEADERS = [HEADER_BYTES, 2 * HEADER_BYTES];

/**
 * Whether the file is shorter than its active database header says (the one of the higher iteration,
 * as DuckDB picks it): each of `block_count` blocks is `block_alloc_size` bytes after the three headers.
 * Read before DuckDB opens the file, so nothing writes into a truncated store. Returns what is wrong, or
 * undefined (a whole file, or a layout this check does not know: DuckDB then says what it finds).
 */
export function truncatedDuckDbFile(path: string, size: number): string | undefined {
  const head = Buffer.alloc(3 * HEADER_BYTES);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 12 + 8) return undefined;
  if (head.readBigUInt64LE(12) !== STORAGE_VERSION) return undefined;
  if (n < head.length) return `${size} bytes, shorter than its own headers`;
  // Fields after each header's 8-byte checksum: iteration, meta block, free list, block count, block size.
  const headers = DATABASE_HEADERS.map((at) => ({
    iteration: head.readBigUInt64LE(at + 8), blocks: head.readBigUInt64LE(at + 32), blockBytes: head.readBigUInt64LE(at + 40),
  }));
  const active = headers[0]!.iteration >= headers[1]!.iteration ? headers[0]! : headers[1]!;
  const bytes = Number(active.blockBytes);
  // A block size DuckDB never writes means a header this check misreads: leave the file to DuckDB.
  if (bytes < 16_384 || bytes > 1 << 30 || (bytes & (bytes - 1)) !== 0) return undefined;
  const expected = 3 * HEADER_BYTES + Number(active.blocks) * bytes;
  return size < expected ? `${size} bytes where its header counts ${active.blocks} blocks of ${bytes} bytes, ${expected} bytes: truncated` : undefined;
}
