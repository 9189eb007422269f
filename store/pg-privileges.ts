/**
 * What the PostgreSQL role of `--store` may do with a store's schema, asked of the catalog when a command
 * opens the store. A role without a privilege the command needs is told which and the GRANT that gives
 * it (exit 2) before anything runs: a read-only role given to a writer used to fail on its first
 * statement (`permission denied for database`, exit 1), and a reader without SELECT read the store as
 * empty ("run concord stream first"), since information_schema lists only what a role may touch.
 */
import type { SqlDriver } from './sql-driver.ts';
import { StoreError } from './sql-driver.ts';

/** The store's objects in schema `s` as the catalog has them, whatever the role may read. */
export interface PgStoreObjects {
  schema: boolean;
  /** Relation name -> whether the current role owns it (may alter or replace it). */
  relations: Map<string, { mine: boolean }>;
}

export async function pgStoreObjects(q: SqlDriver, s: string): Promise<PgStoreObjects> {
  const [ns] = await q.query(`SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1`, [s]);
  const rows = await q.query(`SELECT c.relname AS name, pg_has_role(c.relowner, 'USAGE') AS mine FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'S')`, [s]);
  return { schema: Number(ns?.n ?? 0) > 0, relations: new Map(rows.map((r) => [String(r.name), { mine: r.mine === true }])) };
}

/** Before creating what is missing: the role may (a store made by its owner needs no CREATE of its writers). */
export async function checkMayCreate(q: SqlDriver, s: string, have: PgStoreObjects, missing: readonly string[]): Promise<void> {
  if (missing.length === 0) return;
  const [r] = await q.query(`SELECT current_user AS role, current_database() AS db, has_database_privilege(current_database(), 'CREATE') AS on_db,
    (SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE nspname = $1) AS on_schema`, [s]);
  const role = String(r?.role);
  if (!have.schema && r?.on_db !== true) {
    throw new StoreError(`schema ${s} does not exist in database ${String(r?.db)} and the PostgreSQL role "${role}" may not create it (it lacks CREATE on the database): ` +
      `check CONCORD_STORE_SCHEMA, or have the database's owner run CREATE SCHEMA ${s} AUTHORIZATION ${quoteRole(role)} (docs/operations.md, "Roles and privileges")`, { domain: 'user' });
  }
  if (have.schema && r?.on_schema !== true) {
    throw new StoreError(`the store in schema ${s} lacks ${missing.join(', ')} and the PostgreSQL role "${role}" may not create them (it lacks CREATE on schema ${s}): ` +
      `open the store once with the role that owns it (a writer of this release adds them), or GRANT CREATE ON SCHEMA ${s} TO ${quoteRole(role)} (docs/operations.md, "Roles and privileges")`, { domain: 'user' });
  }
}

const WRITE = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;

/** A writer (stream --store, sink, reconcile, backfill, revert, prune, jobs worker) writes every table and draws from the sequence. */
export async function checkWriterPrivileges(q: SqlDriver, s: string, tables: readonly string[], sequence: string): Promise<void> {
  // By oid: a name would be looked up through the schema, which fails without USAGE on it.
  const rows = await q.query(`SELECT c.relname AS name, ${WRITE.map((p) => `has_table_privilege(c.oid, '${p}') AS ${p.toLowerCase()}`).join(', ')}
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::TEXT[]) AND c.relkind IN ('r', 'p')`,
  [s, `{${tables.join(',')}}`]);
  const [r] = await q.query(`SELECT current_user AS role, has_schema_privilege(n.oid, 'USAGE') AS usage,
    (SELECT bool_or(has_sequence_privilege(c.oid, 'USAGE') OR has_sequence_privilege(c.oid, 'UPDATE')) FROM pg_class c
      WHERE c.relnamespace = n.oid AND c.relname = $2 AND c.relkind = 'S') AS seq,
    has_database_privilege(current_database(), 'TEMPORARY') AS temp, current_database() AS db
    FROM pg_namespace n WHERE n.nspname = $1`, [s, sequence]);
  const lacks: string[] = [];
  const grants: string[] = [];
  const role = quoteRole(String(r?.role));
  if (r?.usage !== true) {
    lacks.push(`USAGE on schema ${s}`);
    grants.push(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
  }
  const tableLacks = lackedOnTables(rows, WRITE, s, tables);
  lacks.push(...tableLacks);
  if (tableLacks.length > 0) grants.push(`GRANT ${WRITE.join(', ')} ON ALL TABLES IN SCHEMA ${s} TO ${role}`);
  if (r?.seq !== true) {
    lacks.push(`USAGE on sequence ${s}.${sequence}`);
    grants.push(`GRANT USAGE ON SEQUENCE ${s}.${sequence} TO ${role}`);
  }
  if (r?.temp !== true) {
    lacks.push(`TEMPORARY on database ${String(r?.db)} (writes are staged in temporary tables)`);
    grants.push(`GRANT TEMPORARY ON DATABASE ${String(r?.db)} TO ${role}`);
  }
  if (lacks.length === 0) return;
  throw new StoreError(`the PostgreSQL role "${String(r?.role)}" may not write the store in schema ${s}: it lacks ${lacks.join('; ')}. ` +
    `As the store's owner run: ${grants.join('; ')}; or give this command the writers' role in --store (or CONCORD_STORE). ` +
    `Readers (serve, report) need only USAGE and SELECT (docs/operations.md, "Roles and privileges")`, { domain: 'user' });
}

/** A reader (serve, report) reads every table of a store that exists; a schema not there reads as empty, as before. */
export async function checkReaderPrivileges(q: SqlDriver, s: string, tables: readonly string[]): Promise<void> {
  const [r] = await q.query(`SELECT current_user AS role, has_schema_privilege(oid, 'USAGE') AS usage FROM pg_namespace WHERE nspname = $1`, [s]);
  if (r === undefined) return;
  const rows = await q.query(`SELECT c.relname AS name, has_table_privilege(c.oid, 'SELECT') AS select
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::TEXT[]) AND c.relkind IN ('r', 'p')`,
  [s, `{${tables.join(',')}}`]);
  const present = rows.map((row) => String(row.name));
  const lacks = [...(r?.usage === true ? [] : [`USAGE on schema ${s}`]), ...lackedOnTables(rows, ['SELECT'], s, present)];
  if (lacks.length === 0) return;
  const role = quoteRole(String(r?.role));
  throw new StoreError(`the PostgreSQL role "${String(r?.role)}" may not read the store in schema ${s}: it lacks ${lacks.join('; ')}. ` +
    `As the store's owner run: GRANT USAGE ON SCHEMA ${s} TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${role} ` +
    `(docs/operations.md, "Roles and privileges")`, { domain: 'user' });
}

/** "INSERT, UPDATE on every table of s" when no table allows them, else the tables that do not; privileges lacked on the same tables said together. */
function lackedOnTables(rows: readonly Record<string, unknown>[], privileges: readonly string[], s: string, tables: readonly string[]): string[] {
  const byTables = new Map<string, string[]>();
  for (const p of privileges) {
    const without = rows.filter((row) => row[p.toLowerCase()] !== true).map((row) => String(row.name));
    if (without.length === 0) continue;
    const where = without.length === tables.length ? `every table of ${s}` : without.map((t) => `${s}.${t}`).join(', ');
    byTables.set(where, [...(byTables.get(where) ?? []), p]);
  }
  return [...byTables].map(([where, ps]) => `${ps.join(', ')} on ${where}`);
}

/** A role name as GRANT takes it: plain lower-case names as they are, others quoted. */
function quoteRole(role: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(role) ? role : `"${role.replaceAll('"', '""')}"`;
}
