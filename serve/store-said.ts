import { basename } from 'node:path';
import type { ServeReader } from './read-gate.ts';

/**
 * What the API says of where the store is: no file path and no secret (docs/api.md). The reader's
 * location is the store's URL without its password, for the server's own log and terminal.
 * Embedded DuckDB: `duckdb:` and the file's name, without its directory. PostgreSQL: the URL without
 * its password (`postgres://user:***@host:port/db`) and without its query, whose parameters may name
 * files (`sslrootcert`, `sslkey`) or hold other settings; the schema is answered apart.
 */
export function answeredLocation(reader: Pick<ServeReader, 'backend' | 'location'>): string {
  if (reader.backend === 'duckdb') return `duckdb:${basename(reader.location.replace(/^duckdb:/, ''))}`;
  return reader.location.replace(/[?#].*$/s, '');
}

/**
 * What a client is told of an embedded DuckDB file a writer holds. The driver's message names the file
 * (for the log); answered, it put the server's file path in /api/status, /readyz, the live stream and
 * every 503 while a writer ran.
 */
export const STORE_LOCKED_MESSAGE = 'the store is held by a writer (embedded DuckDB: one writing process, or several reading ones); reads resume when it is done (use PostgreSQL to read while writing)';
