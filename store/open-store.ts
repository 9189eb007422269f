import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { envNumber } from '../pipeline/env-number.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { DuckDbDriver } from './duckdb-driver.ts';
import { checkDuckDbStorePath } from './duckdb-path.ts';
import { DuckDbReadDriver } from './duckdb-read-driver.ts';
import { PostgresDriver, PostgresReadDriver } from './pg-driver.ts';
import { checkReaderPrivileges } from './pg-privileges.ts';
import { redact } from './sql-driver.ts';
import { SqlResultStore, STORE_SCHEMA_NAME, type StoreOptions } from './sql-store.ts';
import { StoreReader } from './store-reader.ts';
import { READER_TABLES } from './store-tables.ts';

export const DEFAULT_STORE = 'duckdb:.concord/store.duckdb';
import { DEFAULT_DATABASE_URL } from '../infra/postgres.ts';

export { DEFAULT_DATABASE_URL };

/**
 * Opens the result store named by `url` (default: env CONCORD_STORE, else the embedded DuckDB file):
 * `duckdb:<path>` or `duckdb::memory:` (one process), `postgres://...` (several processes; `postgres`
 * alone means DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test). Tables are created if missing.
 */
/** The URL (default: env CONCORD_STORE, else the embedded file) and options with the environment's defaults. */
function resolve<O extends StoreOptions>(url: string | undefined, options: O) {
  refuseSchemaInUrl(url ?? process.env.CONCORD_STORE);
  const schema = options.schema ?? process.env.CONCORD_STORE_SCHEMA ?? 'concord';
  // Checked before a connection is opened, as the user's setting it is (was a plain Error with a stack,
  // after the database was opened; a CONCORD_SEAL_DELAY_MS that is no number was NaN, silently).
  if (!STORE_SCHEMA_NAME.test(schema)) throw new ConfigError(`store schema "${schema}" (env CONCORD_STORE_SCHEMA): use lower-case letters, digits and _, starting with a letter or _`);
  const sealDelayMs = options.sealDelayMs ?? envNumber('CONCORD_SEAL_DELAY_MS', undefined, { integer: true, unit: 'milliseconds' });
  return { url: url ?? process.env.CONCORD_STORE ?? DEFAULT_STORE, opts: { ...options, schema, ...(sealDelayMs === undefined ? {} : { sealDelayMs }) } };
}

/**
 * A PostgreSQL URL's `?schema=S` (Prisma's spelling) is not read by the driver: the store silently
 * used schema `concord`, so a writer given it wrote into the default store. Refused, naming the setting.
 */
function refuseSchemaInUrl(url: string | undefined): void {
  if (url === undefined || !/^postgres(ql)?:\/\//.test(url)) return;
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  const param = ['schema', 'search_path', 'currentSchema'].find((name) => query?.has(name));
  if (param === undefined) return;
  throw new ConfigError(`store ${redact(url)}: the schema is not read from the URL (its ?${param}= would be ignored and schema concord used); ` +
    `set CONCORD_STORE_SCHEMA=${query?.get(param) ?? ''} and drop ?${param}= from the URL`);
}

export async function openStore(storeUrl: string | undefined, options: StoreOptions): Promise<SqlResultStore> {
  const { url, opts } = resolve(storeUrl, options);
  const schema = opts.schema;
  if (url === 'postgres' || url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pgUrl = url === 'postgres' ? (process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL) : url;
    // One advisory lock per store schema: writers of one store serialise, other stores do not wait.
    const lockKey = createHash('sha256').update(schema).digest().readInt32BE(0);
    return new SqlResultStore(await PostgresDriver.open(pgUrl, lockKey), opts).init();
  }
  if (url.startsWith('duckdb:')) {
    const path = url.slice('duckdb:'.length) || ':memory:';
    if (path !== ':memory:') {
      checkDuckDbStorePath(path, url);
      mkdirSync(dirname(path), { recursive: true });
    }
    return new SqlResultStore(await DuckDbDriver.open(path), opts).init();
  }
  throw new ConfigError(`store "${redact(url)}": use duckdb:<file>, duckdb::memory: or postgres://user@host:port/db (env CONCORD_STORE)`);
}

/**
 * Nothing to read where a reading command looked: most often a mistyped --store (a user error, exit 2).
 * `what` says what is missing; the advice is the same.
 */
export class NoStoreError extends ConfigError {
  /** `others`: the Concord stores beside it in the same database (StoreSnapshot.otherStores). */
  constructor(what: string, url: string, others: readonly string[] = []) {
    super(`${what}: run \`concord stream --store ${url} ...\` or \`concord demo\` first, or check --store (or CONCORD_STORE)` +
      (others.length > 0 ? `; ${otherStoresSaid(others)}` : ''));
  }
}

/** The other stores an empty store's messages name (a PostgreSQL database may hold many). */
const OTHER_STORES_SAID = 5;

/** What to do about an empty store beside filled ones in its database (schemas: StoreSnapshot.otherStores). */
export function otherStoresSaid(others: readonly string[]): string {
  const named = others.slice(0, OTHER_STORES_SAID).join(', ') + (others.length > OTHER_STORES_SAID ? ` and ${others.length - OTHER_STORES_SAID} more` : '');
  return `the same database holds Concord results in schema ${named}: to read those, set CONCORD_STORE_SCHEMA to the schema the writers ran with (e.g. CONCORD_STORE_SCHEMA=${others[0]})`;
}

/**
 * Opens the store named by `url` (as `openStore`) for reading only: no tables are created, no writers'
 * lock is taken, every read is one consistent snapshot that never waits for a writer (see
 * `SqlReadDriver`). A DuckDB file that does not exist is a NoStoreError (and is not created); a
 * PostgreSQL schema without tables reads as empty (a database is there; writers may start any time).
 */
export async function openStoreReader(storeUrl: string | undefined, options: StoreOptions & { poolSize?: number; statementTimeoutMs?: number }): Promise<StoreReader> {
  const { url, opts } = resolve(storeUrl, options);
  if (url === 'postgres' || url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pgUrl = url === 'postgres' ? (process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL) : url;
    const driver = await PostgresReadDriver.open(pgUrl, {
      ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
      ...(options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs }),
    });
    try {
      // Said at start (exit 2), not as an empty store: information_schema hides the tables a role may not read.
      await driver.snapshot((q) => checkReaderPrivileges(q, opts.schema, READER_TABLES));
    } catch (error) {
      await driver.close();
      throw error;
    }
    return new StoreReader(driver, opts, redact(pgUrl));
  }
  if (url.startsWith('duckdb:')) {
    const path = url.slice('duckdb:'.length);
    if (path === '' || path === ':memory:') throw new ConfigError('an in-memory DuckDB store lives in the process that writes it: serve a duckdb:<file> or postgres:// store');
    if (!existsSync(path)) throw new NoStoreError(`no store at ${path}`, url);
    checkDuckDbStorePath(path, url);
    return new StoreReader(new DuckDbReadDriver(path), opts, url);
  }
  throw new ConfigError(`store "${redact(url)}": use duckdb:<file> or postgres://user@host:port/db (env CONCORD_STORE)`);
}
