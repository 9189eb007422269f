/** The store on embedded DuckDB, read-only: the snapshots of `concord serve`, between the writer's turns. */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { stat } from 'node:fs/promises';
import { StoreError, StoreBusyError, statementFailed, readOnlyDriver, EMPTY_SNAPSHOT, type SqlDriver, type SqlReadDriver, type SqlValue } from './sql-driver.ts';
import { envNumber } from '../pipeline/env-number.ts';
import { damagedStoreError, isDamagedDuckDbText } from './duckdb-damage.ts';

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
    this.lingerMs = options.lingerMs ?? envNumber('CONCORD_DUCKDB_READ_LINGER_MS', 250, { unit: 'milliseconds' });
  }

  private async openSession(): Promise<DuckSession> {
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(this.path, { access_mode: 'READ_ONLY', memory_limit: process.env.CONCORD_DUCKDB_MEMORY ?? '1GB' });
      return { instance, connection: await instance.connect(), users: 0, queue: Promise.resolve() };
    } catch (error) {
      instance?.closeSync();
      const text = error instanceof Error ? error.message : String(error);
      // Before the lock test: DuckDB names a corrupt block "block at location N", which /lock/ matched.
      if (isDamagedDuckDbText(text)) throw damagedStoreError(this.path, text, error);
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
    const size = await fileSize(this.path);
    // Gone while served (deleted, moved, a volume unmounted): the store does not answer. Read as empty, it
    // said `ok` with 0 rows, and /metrics dropped every series with `concord_store_up 1`.
    if (size === undefined) {
      throw new StoreError(`the DuckDB store ${this.path} is not there any more (deleted or moved?); reads resume when it is back`, { retriable: true });
    }
    if (size === 0) return fn(EMPTY_SNAPSHOT); // a writer creating it
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
    // A streaming query holds the connection until its last chunk is read (or the reader stops): the
    // queue waits for it, as for any query.
    async function* queryChunks(sql: string, params: readonly SqlValue[] = []): AsyncIterable<Record<string, unknown>[]> {
      let done!: () => void;
      const held = new Promise<void>((resolve) => { done = resolve; });
      const turn = s.queue;
      s.queue = turn.then(() => held, () => held);
      await turn.catch(() => undefined);
      try {
        let result;
        try {
          result = await s.connection.stream(sql, params as DuckDBValue[]);
        } catch (error) {
          throw statementFailed('query', sql, error);
        }
        for await (const rows of result.yieldRowObjectJs()) yield rows as Record<string, unknown>[];
      } finally {
        done();
      }
    }
    try {
      return await fn(readOnlyDriver('duckdb', query, queryChunks));
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

/** The file's size; undefined: there is no such file. */
async function fileSize(path: string): Promise<number | undefined> {
  return (await stat(path).catch(() => undefined))?.size;
}

async function fileStamp(path: string): Promise<string> {
  const s = await stat(path).catch(() => undefined);
  return s ? `${s.mtimeMs}:${s.size}` : '-';
}
