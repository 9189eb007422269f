import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { stat } from 'node:fs/promises';
import pg from 'pg';
import { ConcordError } from '../pipeline/errors.ts';
import { stageByCopy } from './pg-stage.ts';

/** The store's database could not be reached or refused a statement. */
export class StoreError extends ConcordError {
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { domain: 'external', ...options });
  }
}

export type SqlValue = string | number | null;

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
  /** Runs `fn` in one transaction; writers are serialised (PostgreSQL: across processes). */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  /**
   * The bulk path: replaces the contents of a staging table (created on first use with these columns)
   * with `rows` and returns its qualified name, for set-based statements. DuckDB: a table in `schema`
   * filled by the appender (multi-row VALUES parse at ~0.4 ms a row); PostgreSQL: a temporary table of
   * the session filled by COPY FROM STDIN (store/pg-stage.ts). Inside a transaction only.
   */
  stage(schema: string, table: string, columns: readonly StageColumn[], rows: readonly SqlValue[][]): Promise<string>;
  /** Folds the write-ahead log into the database file, where the backend leaves that to its user (DuckDB). */
  checkpoint?(): Promise<void>;
  close(): Promise<void>;
}

/** Embedded DuckDB: one process; calls are queued on its one connection. */
export class DuckDbDriver implements SqlDriver {
  readonly backend = 'duckdb' as const;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
  }

  static async open(path: string): Promise<DuckDbDriver> {
    try {
      // DuckDB checkpoints inside the commit that crosses this WAL size (measured: 300-700 ms with the
      // store's indexes, the p99 of the live write path); the sink checkpoints between writes instead
      // (StoreSink.checkpointIfDue), and this stays as the safety net.
      const config = {
        memory_limit: process.env.CONCORD_DUCKDB_MEMORY ?? '2GB',
        checkpoint_threshold: process.env.CONCORD_DUCKDB_CHECKPOINT_THRESHOLD ?? '1GB',
      };
      // `concord serve` holds the file read-only for a burst of reads (DuckDB: one writer or several
      // readers): a writer starting meanwhile waits for it (CONCORD_DUCKDB_LOCK_WAIT_MS, default 5 s).
      const waitUntil = Date.now() + Number(process.env.CONCORD_DUCKDB_LOCK_WAIT_MS ?? 5_000);
      for (;;) {
        try {
          const instance = await DuckDBInstance.create(path, config);
          return new DuckDbDriver(instance, await instance.connect());
        } catch (error) {
          if (!/Conflicting lock/i.test(String(error)) || Date.now() >= waitUntil) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } catch (error) {
      throw new StoreError(`cannot open the DuckDB store at ${path}: ${error instanceof Error ? error.message : String(error)} (another process may hold it; use PostgreSQL for several processes)`, { cause: error });
    }
  }

  private async run(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params as DuckDBValue[]);
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } catch (error) {
      throw statementFailed('query', sql, error);
    }
  }

  private async exec(sql: string, params: readonly SqlValue[]): Promise<number> {
    try {
      return Number((await this.connection.run(sql, params as DuckDBValue[])).rowsChanged);
    } catch (error) {
      throw statementFailed('statement', sql, error);
    }
  }

  private readonly stageTables = new Set<string>();


  private async stageRows(schema: string, table: string, columns: readonly StageColumn[], rows: readonly SqlValue[][]): Promise<string> {
    // A temporary table: in memory, outside the database file and its write-ahead log.
    const local = `${schema}_${table}`;
    const name = `temp.main.${local}`;
    if (!this.stageTables.has(local)) {
      await this.run(`CREATE OR REPLACE TEMP TABLE ${local} (${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`, []);
      this.stageTables.add(local);
    }
    await this.run(`DELETE FROM ${name}`, []);
    try {
      const appender = await this.connection.createAppender(local, 'main', 'temp');
      for (const row of rows) {
        columns.forEach((c, i) => {
          const v = row[i];
          if (v === null || v === undefined) appender.appendNull();
          else if (c.type === 'TEXT') appender.appendVarchar(String(v));
          else if (c.type === 'BIGINT') appender.appendBigInt(BigInt(v));
          else appender.appendInteger(Number(v));
        });
        appender.endRow();
      }
      appender.closeSync();
    } catch (error) {
      throw new StoreError(`staging ${rows.length} rows into ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return name;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  query(sql: string, params: readonly SqlValue[] = []): Promise<Record<string, unknown>[]> {
    return this.exclusive(() => this.run(sql, params));
  }

  execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.exclusive(() => this.exec(sql, params));
  }

  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const tx: SqlDriver = {
        backend: 'duckdb', query: (sql, params = []) => this.run(sql, params), execute: (sql, params = []) => this.exec(sql, params),
        transaction: (inner) => inner(tx), close: async () => undefined,
        stage: (schema, table, columns, rows) => this.stageRows(schema, table, columns, rows),
      };
      await this.run('BEGIN TRANSACTION', []);
      try {
        const out = await fn(tx);
        await this.run('COMMIT', []);
        return out;
      } catch (error) {
        await this.run('ROLLBACK', []).catch(() => undefined);
        this.stageTables.clear(); // a staging table created in the rolled-back transaction is gone
        throw error;
      }
    });
  }

  stage(schema: string, table: string, columns: readonly StageColumn[], rows: readonly SqlValue[][]): Promise<string> {
    return this.exclusive(() => this.stageRows(schema, table, columns, rows));
  }

  checkpoint(): Promise<void> {
    return this.exclusive(async () => { await this.run('CHECKPOINT', []); });
  }

  async close(): Promise<void> {
    await this.queue;
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

// BIGINT (int8) as a JS number: store times are epoch ms, far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** PostgreSQL: a pool shared by the process; writers of every process serialise on one advisory lock. */
export class PostgresDriver implements SqlDriver {
  readonly backend = 'postgres' as const;

  private readonly pool: pg.Pool;
  private readonly lockKey: number;

  private constructor(pool: pg.Pool, lockKey: number) {
    this.pool = pool;
    this.lockKey = lockKey;
  }

  static async open(url: string, lockKey: number): Promise<PostgresDriver> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined); // an idle client's error surfaces on its next query
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new StoreError(`PostgreSQL does not answer at ${redact(url)}: ${error instanceof Error ? error.message : String(error)} (run \`npm run infra:up\`, or set DATABASE_URL)`, { cause: error, retriable: true });
    }
    return new PostgresDriver(pool, lockKey);
  }

  async query(sql: string, params: readonly SqlValue[] = []): Promise<Record<string, unknown>[]> {
    try {
      return (await this.pool.query(sql, params as unknown[])).rows as Record<string, unknown>[];
    } catch (error) {
      throw statementFailed('query', sql, error);
    }
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    try {
      return (await this.pool.query(sql, params as unknown[])).rowCount ?? 0;
    } catch (error) {
      throw statementFailed('statement', sql, error);
    }
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const lost = watchConnection(client);
    const exec = async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return (await client.query(sql, params as unknown[])).rowCount ?? 0;
      } catch (error) {
        throw statementFailed('statement', sql, error, connectionLost(error));
      }
    };
    const run = async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return (await client.query(sql, params as unknown[])).rows as Record<string, unknown>[];
      } catch (error) {
        throw statementFailed('query', sql, error, connectionLost(error));
      }
    };
    const tx: SqlDriver = {
      backend: 'postgres', query: run, execute: exec, transaction: (inner) => inner(tx), close: async () => undefined,
      stage: async (schema, table, columns, rows) => {
        try {
          return await stageByCopy(client, schema, table, columns, rows);
        } catch (error) {
          throw new StoreError(`staging ${rows.length} rows into ${schema}_${table} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retriable: connectionLost(error) });
        }
      },
    };
    try {
      await run('BEGIN');
      // One writer at a time across processes: the store's read-modify-write steps (guards, switches,
      // change sequence) stay simple and correct; writes are batched, so the lock is short.
      await run('SELECT pg_advisory_xact_lock($1)', [this.lockKey]);
      const out = await fn(tx);
      await run('COMMIT');
      return out;
    } catch (error) {
      await run('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release(lost.release());
    }
  }

  stage(_schema: string, _table: string, _columns: readonly StageColumn[], _rows: readonly SqlValue[][]): Promise<string> {
    return Promise.reject(new StoreError('staging rows needs a transaction (its temporary table is emptied at commit)'));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A checked-out client whose connection drops between two statements emits 'error' on itself (the pool
 * listens only while a client is idle): unheard, that kills the process. Heard here, the next statement
 * fails with a StoreError and the client is destroyed on release, not handed out again.
 */
function watchConnection(client: pg.PoolClient): { release: () => boolean } {
  let broken = false;
  const onError = () => { broken = true; };
  client.on('error', onError);
  return { release: () => { client.off('error', onError); return broken; } };
}

/** The connection went away (dropped, server shut down or terminated the backend): running again may succeed. */
function connectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNRESET' || code === 'ECONNREFUSED'
    || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(error instanceof Error ? error.message : String(error));
}

/** A failed statement as the store reports it: what failed, the database's words, the statement's start. */
function statementFailed(kind: 'query' | 'statement', sql: string, error: unknown, retriable = false): StoreError {
  return new StoreError(`store ${kind} failed: ${error instanceof Error ? error.message : String(error)}\n  in: ${sql.slice(0, 300)}`, { cause: error, retriable });
}

/** A URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

// ---- read-only access (concord serve) ------------------------------------------------------------

/** The store's database is held by a writer that excludes readers (embedded DuckDB: one process at a time). */
export class StoreBusyError extends StoreError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: true });
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

function readOnlyDriver(backend: 'duckdb' | 'postgres', query: SqlDriver['query']): SqlDriver {
  return {
    backend, query,
    execute: () => Promise.reject(new StoreError('a read-only store connection does not write')),
    transaction: () => Promise.reject(new StoreError('a read-only store connection does not write')),
    stage: () => Promise.reject(new StoreError('a read-only store connection does not write')),
    close: async () => undefined,
  };
}

/** What a snapshot of a store that does not exist yet answers: no rows, to every query. */
export const EMPTY_SNAPSHOT: SqlDriver = readOnlyDriver('duckdb', async () => []);

interface DuckSession {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  users: number;
  queue: Promise<unknown>;
}

/**
 * Embedded DuckDB, read-only. DuckDB lets one process write a file or several read it, never both, so
 * the file is opened (READ_ONLY) only while reads run and released `lingerMs` after the last one: a
 * writer (`concord stream --store`, `reconcile --date`) can take it in between. While a writer holds it,
 * reads fail at once with StoreBusyError (never wait). While opened, no one can write: every query of a
 * snapshot sees the same state.
 */
export class DuckDbReadDriver implements SqlReadDriver {
  readonly backend = 'duckdb' as const;
  private readonly path: string;
  private readonly lingerMs: number;
  private session: Promise<DuckSession> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(path: string, options: { lingerMs?: number } = {}) {
    this.path = path;
    this.lingerMs = options.lingerMs ?? Number(process.env.CONCORD_DUCKDB_READ_LINGER_MS ?? 250);
  }

  private async openSession(): Promise<DuckSession> {
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(this.path, { access_mode: 'READ_ONLY', memory_limit: process.env.CONCORD_DUCKDB_MEMORY ?? '1GB' });
      return { instance, connection: await instance.connect(), users: 0, queue: Promise.resolve() };
    } catch (error) {
      instance?.closeSync();
      const text = error instanceof Error ? error.message : String(error);
      if (/lock/i.test(text)) {
        throw new StoreBusyError(`the DuckDB store ${this.path} is held by a writer (DuckDB: one writing process, or several reading ones); reads resume when it is done (use PostgreSQL to read while writing)`, { cause: error });
      }
      throw new StoreError(`cannot open the DuckDB store at ${this.path} read-only: ${text}`, { cause: error });
    }
  }

  private async acquire(): Promise<DuckSession> {
    clearTimeout(this.timer);
    this.session ??= this.openSession();
    const pending = this.session;
    try {
      const s = await pending;
      s.users++;
      return s;
    } catch (error) {
      if (this.session === pending) this.session = undefined;
      throw error;
    }
  }

  private release(s: DuckSession): void {
    s.users--;
    if (s.users > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (s.users > 0) return;
      this.session = undefined;
      void s.queue.finally(() => { s.connection.closeSync(); s.instance.closeSync(); });
    }, this.lingerMs);
  }

  async snapshot<T>(fn: (q: SqlDriver) => Promise<T>): Promise<T> {
    if (!(await fileSize(this.path))) return fn(EMPTY_SNAPSHOT);
    const s = await this.acquire();
    // One connection: its statements run one at a time.
    const query = (sql: string, params: readonly SqlValue[] = []) => {
      const run = async () => {
        try {
          return (await s.connection.runAndReadAll(sql, params as DuckDBValue[])).getRowObjectsJS() as Record<string, unknown>[];
        } catch (error) {
          throw statementFailed('query', sql, error);
        }
      };
      const next = s.queue.then(run, run);
      s.queue = next.catch(() => undefined);
      return next;
    };
    try {
      return await fn(readOnlyDriver('duckdb', query));
    } finally {
      this.release(s);
    }
  }

  async changeToken(): Promise<string> {
    const [db, wal] = await Promise.all([fileStamp(this.path), fileStamp(`${this.path}.wal`)]);
    return `${db}|${wal}`;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    const pending = this.session;
    this.session = undefined;
    if (!pending) return;
    const s = await pending.catch(() => undefined);
    if (!s) return;
    await s.queue;
    s.connection.closeSync();
    s.instance.closeSync();
  }
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

async function fileStamp(path: string): Promise<string> {
  const s = await stat(path).catch(() => undefined);
  return s ? `${s.mtimeMs}:${s.size}` : '-';
}

/**
 * PostgreSQL, read-only: its own small pool whose sessions are read-only (`default_transaction_read_only`),
 * with a statement timeout and a lock timeout. A snapshot is one REPEATABLE READ READ ONLY transaction:
 * MVCC gives it a consistent state without waiting for writers, and it never takes the advisory lock
 * writers serialise on.
 */
export class PostgresReadDriver implements SqlReadDriver {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  static async open(url: string, options: { poolSize?: number; statementTimeoutMs?: number } = {}): Promise<PostgresReadDriver> {
    const timeout = Math.max(1, Math.floor(options.statementTimeoutMs ?? 15_000));
    const pool = new pg.Pool({
      connectionString: url, max: options.poolSize ?? 4, application_name: 'concord-reader', connectionTimeoutMillis: 5_000,
      options: `-c default_transaction_read_only=on -c statement_timeout=${timeout} -c lock_timeout=2000 -c idle_in_transaction_session_timeout=${timeout * 2}`,
    });
    pool.on('error', () => undefined);
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new StoreError(`PostgreSQL does not answer at ${redact(url)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retriable: true });
    }
    return new PostgresReadDriver(pool);
  }

  async snapshot<T>(fn: (q: SqlDriver) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new StoreError(`PostgreSQL does not answer: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retriable: true });
    }
    const lost = watchConnection(client);
    // One connection: its statements run one at a time (the store's reads may issue several at once).
    let queue: Promise<unknown> = Promise.resolve();
    const run = (sql: string, params: readonly SqlValue[] = []) => {
      const one = async () => {
        try {
          return (await client.query(sql, params as unknown[])).rows as Record<string, unknown>[];
        } catch (error) {
          throw statementFailed('query', sql, error);
        }
      };
      const next = queue.then(one, one);
      queue = next.catch(() => undefined);
      return next;
    };
    let broken = false;
    try {
      await run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const out = await fn(readOnlyDriver('postgres', run));
      await run('COMMIT');
      return out;
    } catch (error) {
      await run('ROLLBACK').catch(() => { broken = true; });
      throw error;
    } finally {
      client.release(lost.release() || broken);
    }
  }

  async changeToken(): Promise<undefined> {
    return undefined;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
