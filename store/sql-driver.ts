/**
 * The store's port onto a SQL database (SqlDriver, SqlReadDriver) and its errors; the drivers are
 * store/duckdb-driver.ts and store/pg-driver.ts.
 */
import { ConcordError, OS_FILE_FAILURE } from '../pipeline/errors.ts';
import { DAMAGED_STORE_ADVICE, isDamagedDuckDbText } from './duckdb-damage.ts';

/** The store's database could not be reached or refused a statement. */
export class StoreError extends ConcordError {
  /** `domain` 'user': the store named is wrong (no such database, refused login), not down. */
  constructor(message: string, options: { cause?: unknown; retriable?: boolean; domain?: 'user' | 'external' } = {}) {
    super(message, { domain: 'external', ...options });
  }
}

export type SqlValue = string | number | null;

export interface TransactionHooks {
  onRollback?(): void;
}

/** A column of a staging table (store/bulk-write.ts). */
export interface StageColumn {
  name: string;
  type: 'TEXT' | 'BIGINT' | 'INTEGER';
}

/**
 * The little the store needs from a SQL database, so one store implementation serves both backends:
 * parameterised statements ($1, $2, ...) and serialised read-write transactions. Both dialects accept
 * the same SQL here (ON CONFLICT ... DO UPDATE ... WHERE, RETURNING, sequences, schemas).
 */
export interface SqlDriver {
  readonly backend: 'duckdb' | 'postgres';
  query(sql: string, params?: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
  /**
   * A write statement's count of rows inserted, updated or deleted, without materialising rows
   * (DuckDB: RETURNING 100k rows costs ~1.3 s, the statement itself ~0.2 s).
   */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs `fn` in one transaction; writers are serialised (PostgreSQL: across processes). `onRollback`
   * runs when it fails (its statements or its commit), before the next transaction may start.
   */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>, hooks?: TransactionHooks): Promise<T>;
  /**
   * The bulk path: replaces the contents of a staging table (created on first use with these columns)
   * with `rows` and returns its qualified name, for set-based statements. DuckDB: a temporary table
   * filled through the appender, a text per column per 4,096 rows (store/duckdb-stage.ts; multi-row
   * VALUES parse at ~0.4 ms a row); PostgreSQL: a temporary table of the session filled by COPY FROM STDIN
   * (store/pg-stage.ts). Inside a transaction only. `rows` may be produced lazily (DuckDB packs them a
   * chunk at a time: a large batch is never all in memory as rows).
   */
  stage(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>): Promise<string>;
  /**
   * DuckDB: `rows` as a relation read where it is used (from their packed chunks, no staging table
   * filled), for rows one or two statements read. Inside a transaction only; reusing `table` replaces them.
   */
  stageRelation?(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>): Promise<string>;
  /**
   * Inside a transaction (DuckDB): a statement without parameters to run before the next statement or
   * the commit, sent in the same text (one trip to the client's thread instead of two). Values must be
   * inlined: numbers, or strings through `sqlText`.
   */
  defer?(sql: string): void;
  /**
   * A query's rows a chunk at a time as the database produces them, from one scan (DuckDB's read-only
   * snapshots: its streaming result). Absent: read big results in keyset pages with `query`.
   */
  queryChunks?(sql: string, params?: readonly SqlValue[]): AsyncIterable<Record<string, unknown>[]>;
  /** Folds the write-ahead log into the database file, where the backend leaves that to its user (DuckDB). */
  checkpoint?(): Promise<void>;
  close(): Promise<void>;
}

/** A string as an SQL literal (for `defer`, which takes no parameters). */
export function sqlText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A row limit as SQL text (LIMIT takes no parameter here): a whole number, never `Infinity` or `NaN`. */
export function sqlRowLimit(n: number): number {
  const x = Math.max(1, Math.floor(n));
  if (!Number.isSafeInteger(x)) throw new RangeError(`internal: a row limit must be a whole number, got ${n}`);
  return x;
}

/** PostgreSQL's SQLSTATE for a statement the role may not run. */
const INSUFFICIENT_PRIVILEGE = '42501';

/** PostgreSQL SQLSTATE classes of the environment: connection, resources (disk full), operator intervention, system. */
const ENVIRONMENT_STATE = /^(08|53|57|58)/;

/**
 * A failed statement as the store reports it, on one line: the database's words, then what to do when
 * the database was down, full or refusing (a lost connection, a disk the OS refused); otherwise the
 * statement's start, for the bug report.
 */
export function statementFailed(kind: 'query' | 'statement', sql: string, error: unknown, retriable = false): StoreError {
  const why = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  const code = (error as { code?: unknown } | null)?.code;
  // A privilege revoked while the command ran (the role was checked when it opened the store): the role's
  // matter, not the database's health, so neither retried nor reported as a bug.
  if (code === INSUFFICIENT_PRIVILEGE) {
    return new StoreError(`store ${kind} failed: ${why}: the PostgreSQL role of --store (or CONCORD_STORE) lacks a privilege on the store; grant it (docs/operations.md, "Roles and privileges")`, { cause: error, domain: 'user' });
  }
  // A damaged DuckDB file fails every read of its lost blocks: no retry mends it (exit 2, what to do).
  if (isDamagedDuckDbText(why)) {
    return new StoreError(`store ${kind} failed: the DuckDB store file is damaged (${why}): ${DAMAGED_STORE_ADVICE}`, { cause: error, domain: 'user' });
  }
  if (retriable || (typeof code === 'string' && ENVIRONMENT_STATE.test(code)) || OS_FILE_FAILURE.test(why)) {
    return new StoreError(`store ${kind} failed: ${why}: the database was down, full or refusing; run again once it answers`, { cause: error, retriable });
  }
  return new StoreError(`store ${kind} failed: ${why} (in: ${sql.replace(/\s+/g, ' ').trim().slice(0, 300)})`, { cause: error, retriable });
}

/**
 * A URL (store, Redis) without its password, for messages: replaced by `***`, the user kept (also an empty
 * one: `redis://:pw@host`). Up to the last '@': a password may hold an unencoded '@'. node-postgres and
 * ioredis also take a password as a query parameter (`?password=`, `?sslpassword=`): every parameter
 * whose name holds "pass" is masked as well.
 */
export function redact(url: string): string {
  return url
    .replace(/\/\/([^:/@]*):\S*@/, (_m, user: string) => `//${user}:***@`)
    .replace(/([?&][^=&#\s]*pass[^=&#\s]*=)[^&#\s]*/gi, '$1***');
}

// ---- read-only access (concord serve) ------------------------------------------------------------

/**
 * The store's database is held by another process that excludes this one (embedded DuckDB: one writing
 * process, or several reading ones). A reader retries; a writer that has waited its while does not.
 */
export class StoreBusyError extends StoreError {
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { retriable: true, ...options });
  }
}

/**
 * A read-only handle on a store database. Reads never take the writers' advisory lock and never wait
 * for a writer: each `snapshot` sees one consistent state of the store (a day is either its old or its
 * new version, never a mix), and the database refuses any statement that would write.
 */
export interface SqlReadDriver {
  readonly backend: 'duckdb' | 'postgres';
  /** Runs `fn` against one consistent snapshot; `q.transaction` throws (nothing writes through a reader). */
  snapshot<T>(fn: (q: SqlDriver) => Promise<T>): Promise<T>;
  /** A cheap token that changes when the store may have changed (DuckDB: the files); undefined: unknown, read to know. */
  changeToken(): Promise<string | undefined>;
  close(): Promise<void>;
}

export function readOnlyDriver(backend: 'duckdb' | 'postgres', query: SqlDriver['query'], queryChunks?: SqlDriver['queryChunks']): SqlDriver {
  return {
    backend, query, ...(queryChunks ? { queryChunks } : {}),
    execute: () => Promise.reject(new StoreError('a read-only store connection does not write')),
    transaction: () => Promise.reject(new StoreError('a read-only store connection does not write')),
    stage: () => Promise.reject(new StoreError('a read-only store connection does not write')),
    close: async () => undefined,
  };
}

/** What a snapshot of a store that does not exist yet answers: no rows, to every query. */
export const EMPTY_SNAPSHOT: SqlDriver = readOnlyDriver('duckdb', async () => []);
