/** The store on embedded DuckDB, the writer (one process); its readers are in duckdb-read-driver.ts. */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { DuckDbStages } from './duckdb-stage.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { StoreBusyError, StoreError, statementFailed, type SqlDriver, type SqlValue, type StageColumn, type TransactionHooks } from './sql-driver.ts';
import { envNumber } from '../pipeline/env-number.ts';
import { damagedStoreError, isDamagedDuckDbText } from './duckdb-damage.ts';

/** Embedded DuckDB: one process; calls are queued on its one connection. */
export class DuckDbDriver implements SqlDriver {
  readonly backend = 'duckdb' as const;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;
  /** The staging tables of this connection (the bulk path). */
  private readonly stages: DuckDbStages;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
    this.stages = new DuckDbStages(connection);
  }

  static async open(path: string): Promise<DuckDbDriver> {
    try {
      // DuckDB checkpoints inside the commit that crosses this WAL size (measured: 300-700 ms with the
      // store's indexes, the p99 of the live write path); the sink checkpoints between writes instead
      // (StoreSink.checkpointIfDue), and this stays as the safety net.
      const config = {
        memory_limit: process.env.CONCORD_DUCKDB_MEMORY ?? '2GB',
        checkpoint_threshold: process.env.CONCORD_DUCKDB_CHECKPOINT_THRESHOLD ?? '1GB',
        ...(process.env.CONCORD_DUCKDB_THREADS ? { threads: process.env.CONCORD_DUCKDB_THREADS } : {}),
      };
      // `concord serve` holds the file read-only for a burst of reads (DuckDB: one writer or several
      // readers): a writer starting meanwhile waits for it (CONCORD_DUCKDB_LOCK_WAIT_MS, default 5 s).
      const waitUntil = Date.now() + envNumber('CONCORD_DUCKDB_LOCK_WAIT_MS', 5_000, { unit: 'milliseconds' });
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
      const message = error instanceof Error ? error.message : String(error);
      // DuckDB refuses a setting without naming it: the settings come from the user's environment.
      if (/Failed to set config/i.test(message)) {
        throw new ConfigError(`cannot open the DuckDB store at ${path}: ${message}: check CONCORD_DUCKDB_MEMORY (e.g. 2GB), CONCORD_DUCKDB_CHECKPOINT_THRESHOLD (e.g. 1GB), CONCORD_DUCKDB_THREADS (a number)`, { cause: error });
      }
      // Before the lock test: DuckDB names a corrupt block "block at location N", which /lock/ matched
      // ("another process holds it", found 2026-12-07).
      if (isDamagedDuckDbText(message)) throw damagedStoreError(path, message, error);
      // The hint about another process only where DuckDB said it could not take the lock.
      if (/lock/i.test(message)) {
        throw new StoreBusyError(`cannot open the DuckDB store at ${path}: ${message} (another process holds it; use PostgreSQL for several processes)`, { cause: error, retriable: false });
      }
      throw new StoreError(`cannot open the DuckDB store at ${path}: ${message}`, { cause: error });
    }
  }

  private async run(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, bound(params));
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } catch (error) {
      throw statementFailed('query', sql, error);
    }
  }

  private async exec(sql: string, params: readonly SqlValue[]): Promise<number> {
    try {
      return Number((await this.connection.run(sql, bound(params))).rowsChanged);
    } catch (error) {
      throw statementFailed('statement', sql, error);
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

  execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.exclusive(() => this.exec(sql, params));
  }

  /**
   * Each call to the client is a trip to its thread pool and back to this (busy) thread, so the
   * transaction saves trips: BEGIN, and statements deferred with `tx.defer`, go out with the next
   * statement (or the COMMIT) in one text, and the COMMIT's text empties the staging tables used.
   */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>, hooks: TransactionHooks = {}): Promise<T> {
    return this.exclusive(async () => {
      let deferred: string[] = [];
      const withDeferred = async <R>(sql: string, params: readonly SqlValue[], go: (sql: string, params: readonly SqlValue[]) => Promise<R>): Promise<R> => {
        const before = deferred;
        deferred = [];
        if (before.length === 0) return go(sql, params);
        if (params.length > 0) {
          await this.run(before.join(';\n'), []);
          return go(sql, params);
        }
        return go([...before, sql].join(';\n'), params);
      };
      const tx: SqlDriver = {
        backend: 'duckdb',
        query: (sql, params = []) => withDeferred(sql, params, (q, p) => this.run(q, p)),
        execute: (sql, params = []) => withDeferred(sql, params, (q, p) => this.exec(q, p)),
        defer: (sql) => { deferred.push(sql); },
        transaction: (inner) => inner(tx), close: async () => undefined,
        // The statement that fills the stage from its packed chunks goes out with the next one.
        stage: (schema, table, columns, rows) => this.stages.stageRows(schema, table, columns, rows, (sql) => withDeferred(sql, [], (q, p) => this.run(q, p)), (sql) => { deferred.push(sql); }),
        stageRelation: (schema, table, columns, rows) => this.stages.stageRelation(schema, table, columns, rows, (sql) => withDeferred(sql, [], (q, p) => this.run(q, p))),
      };
      // BEGIN goes out with the first statement (one trip less per transaction). Staging tables are
      // emptied inside the transaction that used them, before its COMMIT, so the next one finds them
      // empty and appends at once (before its BEGIN is sent: a temporary table's append needs none).
      if (this.stages.anyUsed) {
        await this.run(['BEGIN TRANSACTION', ...this.stages.emptyStages()].join(';\n'), []);
      } else {
        deferred.push('BEGIN TRANSACTION');
      }
      try {
        const out = await fn(tx);
        await this.run([...deferred, ...this.stages.emptyStages(), 'COMMIT'].join(';\n'), []);
        return out;
      } catch (error) {
        await this.run('ROLLBACK', []).catch(() => undefined);
        this.stages.forget();
        hooks.onRollback?.();
        throw error;
      }
    });
  }

  stage(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>): Promise<string> {
    return this.exclusive(() => this.stages.stageRows(schema, table, columns, rows, (sql) => this.run(sql, [])));
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

/**
 * Parameters as the client wants them: none at all for a statement without any. With an array, even an
 * empty one, the client extracts, prepares, binds and runs (four trips to its thread pool, ~2-3 ms a
 * statement measured on the live path: BEGIN alone took 3.4 ms); without, it runs the text in one.
 */
function bound(params: readonly SqlValue[]): DuckDBValue[] | undefined {
  return params.length > 0 ? (params as DuckDBValue[]) : undefined;
}
