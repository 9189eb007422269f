/** The store on PostgreSQL: the writer (advisory lock, COPY staging) and the read-only snapshots of `concord serve`. */
import pg from 'pg';
import { clientKeepAlive, pgTimeouts, serverKeepAlive, withinBound, withinSilence, type PgTimeouts } from './pg-liveness.ts';
import { stageByCopy } from './pg-stage.ts';
import { StoreError, statementFailed, readOnlyDriver, redact, type SqlDriver, type SqlReadDriver, type SqlValue, type StageColumn, type TransactionHooks } from './sql-driver.ts';

// BIGINT (int8) as a JS number: store times are epoch ms, far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** PostgreSQL: a pool shared by the process; writers of every process serialise on one advisory lock. */
export class PostgresDriver implements SqlDriver {
  readonly backend = 'postgres' as const;

  private readonly pool: pg.Pool;
  private readonly lockKey: number;

  private constructor(pool: pg.Pool, lockKey: number, private readonly url: string, private readonly timeouts: PgTimeouts) {
    this.pool = pool;
    this.lockKey = lockKey;
  }

  static async open(url: string, lockKey: number, timeouts: PgTimeouts = pgTimeouts()): Promise<PostgresDriver> {
    const pool = boundedPool(url, timeouts, { max: 4, application_name: 'concord-writer' });
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw connectFailure(url, error, ' (run `npm run infra:up`, or set DATABASE_URL)');
    }
    return new PostgresDriver(pool, lockKey, url, timeouts);
  }

  /** A pooled connection, or "does not answer" (retriable): a raw pg error (ECONNREFUSED) once reached the CLI as a bug, with its stack trace. */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw new StoreError(`PostgreSQL does not answer: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retriable: true });
    }
  }

  /** One statement on a pooled connection, bounded on silence (pg-liveness.ts); a broken connection is not reused. */
  private async statement(kind: 'query' | 'statement', sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
    const client = await this.connect();
    const lost = watchConnection(client);
    let broken = false;
    try {
      return await withinSilence(client, this.url, this.timeouts, () => client.query(sql, params as unknown[]));
    } catch (error) {
      broken = connectionLost(error);
      throw statementFailed(kind, sql, error, broken);
    } finally {
      client.release(lost.release() || broken);
    }
  }

  async query(sql: string, params: readonly SqlValue[] = []): Promise<Record<string, unknown>[]> {
    return (await this.statement('query', sql, params)).rows as Record<string, unknown>[];
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.statement('statement', sql, params)).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>, hooks: TransactionHooks = {}): Promise<T> {
    const client = await this.connect();
    const lost = watchConnection(client);
    const silent = <T>(statement: () => Promise<T>) => withinSilence(client, this.url, this.timeouts, statement);
    let broken = false;
    const exec = async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return (await silent(() => client.query(sql, params as unknown[]))).rowCount ?? 0;
      } catch (error) {
        throw statementFailed('statement', sql, error, connectionLost(error));
      }
    };
    const run = async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return (await silent(() => client.query(sql, params as unknown[]))).rows as Record<string, unknown>[];
      } catch (error) {
        throw statementFailed('query', sql, error, connectionLost(error));
      }
    };
    const tx: SqlDriver = {
      backend: 'postgres', query: run, execute: exec, transaction: (inner) => inner(tx), close: async () => undefined,
      stage: async (schema, table, columns, all) => {
        const rows = Array.isArray(all) ? all as readonly (readonly SqlValue[])[] : [...all];
        try {
          return await silent(() => stageByCopy(client, schema, table, columns, rows));
        } catch (error) {
          // As any statement says it: a backend ended here (pg_terminate_backend, a restart) is a "run again", as it is one statement later.
          throw statementFailed('statement', `COPY ${rows.length} rows into staging table ${schema}_${table}`, error, connectionLost(error));
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
      await run('ROLLBACK').catch(() => { broken = true; });
      hooks.onRollback?.();
      throw error;
    } finally {
      client.release(lost.release() || broken);
    }
  }

  stage(_schema: string, _table: string, _columns: readonly StageColumn[], _rows: Iterable<readonly SqlValue[]>): Promise<string> {
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
  return code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'CONCORD_PG_SILENT'
    || /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error/i.test(error instanceof Error ? error.message : String(error));
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

  /** `boundMs`: the server's statement timeout; the client drops a statement unanswered 1 s after it (the server's clean cancel comes first when it answers). */
  private constructor(pool: pg.Pool, private readonly boundMs: number) {
    this.pool = pool;
  }

  static async open(url: string, options: { poolSize?: number; statementTimeoutMs?: number } = {}, timeouts: PgTimeouts = pgTimeouts()): Promise<PostgresReadDriver> {
    const timeout = Math.max(1, Math.floor(options.statementTimeoutMs ?? timeouts.readMs));
    // The pool's own connect timeout bounds the wait for a free connection too: an API answer is worth nothing after it.
    const pool = boundedPool(url, timeouts, {
      max: options.poolSize ?? 4, application_name: 'concord-reader', connectionTimeoutMillis: timeouts.connectMs,
      options: `-c default_transaction_read_only=on -c statement_timeout=${timeout} -c lock_timeout=2000 -c idle_in_transaction_session_timeout=${timeout * 2}`,
    });
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw connectFailure(url, error, '');
    }
    return new PostgresReadDriver(pool, timeout);
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
          return (await withinBound(client, this.boundMs + 1_000, () => client.query(sql, params as unknown[]))).rows as Record<string, unknown>[];
        } catch (error) {
          // A pooled connection PostgreSQL dropped: the store is down (503), not broken (500).
          throw statementFailed('query', sql, error, connectionLost(error));
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

/**
 * A pool whose new connections give up after the connect timeout (the pool's own option would bound
 * the wait for a free connection as well: a writer may rightly wait for one) and keep TCP alive at both
 * ends (pg-liveness.ts). `extra.options` is added to the server keepalive settings.
 */
function boundedPool(url: string, t: PgTimeouts, extra: pg.PoolConfig): pg.Pool {
  class BoundedClient extends pg.Client {
    constructor(config: pg.ClientConfig = {}) {
      super({ ...config, connectionTimeoutMillis: t.connectMs });
    }
  }
  const pool = new pg.Pool({ connectionString: url, Client: BoundedClient, ...extra, options: [serverKeepAlive(t), extra.options].filter(Boolean).join(' ') });
  pool.on('error', () => undefined); // an idle client's error surfaces on its next query
  pool.on('connect', (client) => clientKeepAlive(client, t));
  return pool;
}

/**
 * Why a first query failed. A database that does not exist, or a login refused, is the URL's mistake
 * (exit 2, what to do); anything else is PostgreSQL not answering (retriable).
 */
function connectFailure(url: string, error: unknown, hint: string): StoreError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === '3D000') {
    return new StoreError(`${message} at ${redact(url)}: create it (\`createdb\`) or name another database in --store (or CONCORD_STORE / DATABASE_URL)`, { cause: error, domain: 'user' });
  }
  if (code === '28P01' || code === '28000') {
    return new StoreError(`PostgreSQL refused the login at ${redact(url)}: ${message}: check the user and password of --store (or CONCORD_STORE / DATABASE_URL)`, { cause: error, domain: 'user' });
  }
  return new StoreError(`PostgreSQL does not answer at ${redact(url)}: ${message}${hint}`, { cause: error, retriable: true });
}
