/** The store on embedded DuckDB: the writer (one process) and the read-only snapshots of `concord serve`. */
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { stat } from 'node:fs/promises';
import { StoreError, StoreBusyError, statementFailed, readOnlyDriver, EMPTY_SNAPSHOT, type SqlDriver, type SqlReadDriver, type SqlValue, type StageColumn, type TransactionHooks } from './sql-driver.ts';

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
        ...(process.env.CONCORD_DUCKDB_THREADS ? { threads: process.env.CONCORD_DUCKDB_THREADS } : {}),
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

  /** Staging tables created on this connection, and those holding rows of an earlier use. */
  private readonly stageTables = new Set<string>();
  private readonly usedStages = new Set<string>();

  private async stageRows(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>, run = (sql: string) => this.run(sql, [])): Promise<string> {
    // A temporary table: in memory, outside the database file and its write-ahead log.
    const local = `${schema}_${table}`;
    const name = `temp.main.${local}`;
    if (!this.stageTables.has(local)) {
      await run(`CREATE OR REPLACE TEMP TABLE ${local} (${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
      this.stageTables.add(local);
    } else if (this.usedStages.has(local)) {
      await run(`DELETE FROM ${name}`);
    }
    this.usedStages.add(local);
    let staged = 0;
    let appender: DuckDBAppender | undefined;
    try {
      appender = await this.connection.createAppender(local, 'main', 'temp');
      for (const row of rows) {
        staged++;
        columns.forEach((c, i) => {
          const v = row[i];
          if (v === null || v === undefined) appender!.appendNull();
          else if (c.type === 'TEXT') appender!.appendVarchar(String(v));
          else if (c.type === 'BIGINT') appender!.appendBigInt(BigInt(v));
          else appender!.appendInteger(Number(v));
        });
        appender.endRow();
      }
      appender.closeSync();
    } catch (error) {
      // What was appended and not flushed is dropped, never flushed later by the appender's release.
      try { appender?.clear(); appender?.closeSync(); } catch { /* the statement failed already */ }
      if (error instanceof StoreError) throw error; // the rows' own (a lazily produced row refused)
      throw new StoreError(`staging row ${staged} into ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
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
        stage: (schema, table, columns, rows) => this.stageRows(schema, table, columns, rows, (sql) => withDeferred(sql, [], (q, p) => this.run(q, p))),
      };
      // BEGIN goes out with the first statement (one trip less per transaction). Staging tables are
      // emptied inside the transaction that used them, before its COMMIT, so the next one finds them
      // empty and appends at once (before its BEGIN is sent: a temporary table's append needs none).
      if (this.usedStages.size > 0) {
        await this.run(['BEGIN TRANSACTION', ...this.emptyStages()].join(';\n'), []);
      } else {
        deferred.push('BEGIN TRANSACTION');
      }
      try {
        const out = await fn(tx);
        await this.run([...deferred, ...this.emptyStages(), 'COMMIT'].join(';\n'), []);
        return out;
      } catch (error) {
        await this.run('ROLLBACK', []).catch(() => undefined);
        // A staging table created in the rolled-back transaction is gone; one emptied there is full again.
        this.stageTables.clear();
        this.usedStages.clear();
        hooks.onRollback?.();
        throw error;
      }
    });
  }

  stage(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>): Promise<string> {
    return this.exclusive(() => this.stageRows(schema, table, columns, rows));
  }

  /** DELETEs for the staging tables that may hold rows (they hold none once those run). */
  private emptyStages(): string[] {
    const out = [...this.usedStages].map((local) => `DELETE FROM temp.main.${local}`);
    this.usedStages.clear();
    return out;
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

/**
 * Parameters as the client wants them: none at all for a statement without any. With an array, even an
 * empty one, the client extracts, prepares, binds and runs (four trips to its thread pool, ~2-3 ms a
 * statement measured on the live path: BEGIN alone took 3.4 ms); without, it runs the text in one.
 */
function bound(params: readonly SqlValue[]): DuckDBValue[] | undefined {
  return params.length > 0 ? (params as DuckDBValue[]) : undefined;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

async function fileStamp(path: string): Promise<string> {
  const s = await stat(path).catch(() => undefined);
  return s ? `${s.mtimeMs}:${s.size}` : '-';
}
