import { EMPTY_SNAPSHOT, type SqlReadDriver } from './sql-driver.ts';
import { SqlResultStore, type StoreOptions } from './sql-store.ts';
import { StoreSnapshot } from './store-snapshot.ts';

// The snapshot's queries and their row types live in store-snapshot.ts (its compare in version-compare.ts); importers keep reading them from here.
export { StoreSnapshot, type DayState, type RowQuery, type StoredLateEvent, type TopKey, type VersionSelector } from './store-snapshot.ts';
export type { CompareRow } from './version-compare.ts';

/**
 * Read-only access to the result store for `concord serve`: every `read` is one consistent snapshot
 * (never the writers' lock, never a mixed day), every query bounded by a time range and a row limit,
 * every value a parameter and every identifier the store's own (schema names are checked by the store).
 */
export class StoreReader {
  readonly backend: 'duckdb' | 'postgres';
  /** The store's URL without its password, for status and logs. */
  readonly location: string;
  /** A day is sealed once the pipeline's watermark passes its end plus this (the store's setting, default 72 h). */
  readonly sealDelayMs: number;
  /** The store's SQL schema (PostgreSQL: one database may hold several stores). */
  readonly schema: string;
  private readonly driver: SqlReadDriver;
  private readonly options: StoreOptions & { schema: string };

  constructor(driver: SqlReadDriver, options: StoreOptions, location: string) {
    this.driver = driver;
    this.backend = driver.backend;
    this.options = { ...options, schema: options.schema ?? 'concord' };
    this.schema = this.options.schema;
    this.location = location;
    this.sealDelayMs = options.sealDelayMs ?? 72 * 3_600_000; // SqlResultStore's default
    new SqlResultStore(EMPTY_SNAPSHOT, this.options); // checks the schema name once, here
  }

  read<T>(fn: (s: StoreSnapshot) => Promise<T>): Promise<T> {
    return this.driver.snapshot(async (q) => {
      const found = await q.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'result_rows'`, [this.options.schema]);
      const exists = Number(found[0]?.n ?? 0) > 0;
      return fn(new StoreSnapshot(exists ? q : EMPTY_SNAPSHOT, this.options, !exists, q));
    });
  }

  changeToken(): Promise<string | undefined> {
    return this.driver.changeToken();
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

