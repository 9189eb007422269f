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
