import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import pg from 'pg';
import { ConcordError } from '../pipeline/errors.ts';

/** The store's database could not be reached or refused a statement. */
export class StoreError extends ConcordError {
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { domain: 'external', ...options });
  }
}

export type SqlValue = string | number | null;

/**
 * The little the store needs from a SQL database, so one store implementation serves both backends:
 * parameterised statements ($1, $2, ...) and serialised read-write transactions. Both dialects accept
 * the same SQL here (ON CONFLICT ... DO UPDATE ... WHERE, RETURNING, sequences, schemas).
 */
export interface SqlDriver {
  readonly backend: 'duckdb' | 'postgres';
  query(sql: string, params?: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
  /** Runs `fn` in one transaction; writers are serialised (PostgreSQL: across processes). */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  /**
   * Bulk path, where the backend has one: replaces the contents of `schema.table` (created on first use
   * with these columns) with `rows`. DuckDB parses multi-row VALUES slowly (~0.4 ms a row measured), its
   * appender is ~100x faster; PostgreSQL takes the VALUES path.
   */
  stage?(schema: string, table: string, columns: readonly { name: string; type: 'TEXT' | 'BIGINT' | 'INTEGER' }[], rows: readonly SqlValue[][]): Promise<void>;
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
      const instance = await DuckDBInstance.create(path, {
        memory_limit: process.env.CONCORD_DUCKDB_MEMORY ?? '2GB',
        checkpoint_threshold: process.env.CONCORD_DUCKDB_CHECKPOINT_THRESHOLD ?? '1GB',
      });
      return new DuckDbDriver(instance, await instance.connect());
    } catch (error) {
      throw new StoreError(`cannot open the DuckDB store at ${path}: ${error instanceof Error ? error.message : String(error)} (another process may hold it; use PostgreSQL for several processes)`, { cause: error });
    }
  }

  private async run(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params as DuckDBValue[]);
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } catch (error) {
      throw new StoreError(`store query failed: ${error instanceof Error ? error.message : String(error)}\n  in: ${sql.slice(0, 300)}`, { cause: error });
    }
  }

  private async stageRows(schema: string, table: string, columns: readonly { name: string; type: 'TEXT' | 'BIGINT' | 'INTEGER' }[], rows: readonly SqlValue[][]): Promise<void> {
    await this.run(`CREATE TABLE IF NOT EXISTS ${schema}.${table} (${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`, []);
    await this.run(`DELETE FROM ${schema}.${table}`, []);
    try {
      const appender = await this.connection.createAppender(table, schema);
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
      throw new StoreError(`staging ${rows.length} rows into ${schema}.${table} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  query(sql: string, params: readonly SqlValue[] = []): Promise<Record<string, unknown>[]> {
    return this.exclusive(() => this.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const tx: SqlDriver = {
        backend: 'duckdb', query: (sql, params = []) => this.run(sql, params), transaction: (inner) => inner(tx), close: async () => undefined,
        stage: (schema, table, columns, rows) => this.stageRows(schema, table, columns, rows),
      };
      await this.run('BEGIN TRANSACTION', []);
      try {
        const out = await fn(tx);
        await this.run('COMMIT', []);
        return out;
      } catch (error) {
        await this.run('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
    });
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
      throw new StoreError(`store query failed: ${error instanceof Error ? error.message : String(error)}\n  in: ${sql.slice(0, 300)}`, { cause: error });
    }
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const run = async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return (await client.query(sql, params as unknown[])).rows as Record<string, unknown>[];
      } catch (error) {
        throw new StoreError(`store query failed: ${error instanceof Error ? error.message : String(error)}\n  in: ${sql.slice(0, 300)}`, { cause: error });
      }
    };
    const tx: SqlDriver = { backend: 'postgres', query: run, transaction: (inner) => inner(tx), close: async () => undefined };
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
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
