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
  const resolved = url ?? process.env.CONCORD_STORE ?? DEFAULT_STORE;
  const setting = options.schema ?? process.env.CONCORD_STORE_SCHEMA;
  const schema = storeSchema(resolved, setting);
  // Checked before a connection is opened, as the user's setting it is (was a plain Error with a stack,
  // after the database was opened; a CONCORD_SEAL_DELAY_MS that is no number was NaN, silently).
  if (!STORE_SCHEMA_NAME.test(schema)) {
    const from = schema === setting ? 'env CONCORD_STORE_SCHEMA' : 'the store URL\'s ?schema=';
    throw new ConfigError(`store schema "${schema}" (${from}): use lower-case letters, digits and _, starting with a letter or _`);
  }
  const sealDelayMs = options.sealDelayMs ?? envNumber('CONCORD_SEAL_DELAY_MS', undefined, { integer: true, unit: 'milliseconds' });
  return { url: resolved, opts: { ...options, schema, ...(sealDelayMs === undefined ? {} : { sealDelayMs }) } };
}

/** The query parameters a PostgreSQL URL names its schema with: Prisma's, JDBC's, libpq's search_path. */
const URL_SCHEMA_PARAMS = ['schema', 'currentSchema', 'search_path'] as const;

/**
 * The store's schema: a PostgreSQL URL's `?schema=S` (or `currentSchema`, or a `search_path` of one
 * name), else `setting` (CONCORD_STORE_SCHEMA), else `concord`. The driver ignores those parameters:
 * before 2026-12-07 such a URL silently used schema `concord`, so a writer given one wrote into the
 * default store. A URL and a setting that disagree are refused rather than one of them picked.
 */
export function storeSchema(url: string, setting: string | undefined): string {
  if (!/^postgres(ql)?:\/\//.test(url) || !url.includes('?')) return setting ?? 'concord';
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  const given = URL_SCHEMA_PARAMS.filter((name) => query.has(name)).map((name) => ({ name, value: query.get(name)!.trim() }));
  if (given.length === 0) return setting ?? 'concord';
  const where = `store ${redact(url)}`;
  const values = new Set(given.map((g) => g.value));
  if (values.size > 1) throw new ConfigError(`${where}: ${given.map((g) => `?${g.name}=${g.value}`).join(' and ')} name different schemas; give one`);
  const [{ name, value }] = given as [(typeof given)[number]];
  if (value.includes(',')) throw new ConfigError(`${where}: ?${name}=${value} names several schemas; the store's tables live in one: give one name (?schema=S)`);
  if (setting !== undefined && setting !== value) {
    throw new ConfigError(`${where}: ?${name}=${value} and CONCORD_STORE_SCHEMA=${setting} name different schemas; drop one of them`);
  }
  return value;
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
      (others.length > 0 ? `; ${otherStoresSaid(others, url)}` : ''));
  }
}

/** The other stores an empty store's messages name (a PostgreSQL database may hold many). */
const OTHER_STORES_SAID = 5;

/**
 * What to do about an empty store beside filled ones in its database (schemas: StoreSnapshot.otherStores).
 * A URL that names its schema (`?schema=`) is told to name the other one there: CONCORD_STORE_SCHEMA
 * beside it, as this said to set, is refused as naming another schema.
 */
export function otherStoresSaid(others: readonly string[], url = ''): string {
  const named = others.slice(0, OTHER_STORES_SAID).join(', ') + (others.length > OTHER_STORES_SAID ? ` and ${others.length - OTHER_STORES_SAID} more` : '');
  const param = url.includes('?') ? URL_SCHEMA_PARAMS.find((name) => new URLSearchParams(url.slice(url.indexOf('?') + 1)).has(name)) : undefined;
  const how = param === undefined ? `set CONCORD_STORE_SCHEMA to the schema the writers ran with (e.g. CONCORD_STORE_SCHEMA=${others[0]})`
    : `name the schema the writers ran with in the store URL (e.g. ?${param}=${others[0]})`;
  return `the same database holds Concord results in schema ${named}: to read those, ${how}`;
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
