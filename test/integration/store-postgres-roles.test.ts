import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { PG_URL, testSchemas } from '../fixtures/postgres.ts';
import { DAY, P, win } from '../fixtures/result-store.ts';

// A DBA's roles on one store: the store made by its owner, a writers' role with only the privileges to
// write (no CREATE anywhere), a read-only role (USAGE, SELECT) and a role granted nothing. Each command
// either works or is refused at open with a user error (exit 2) that names what is lacking.
const schemas = testSchemas();
const schema = schemas.next('roles');
const tag = randomUUID().slice(0, 8);
const roles = { writer: `concord_w_${tag}`, reader: `concord_r_${tag}`, none: `concord_n_${tag}` };
const admin = new pg.Client({ connectionString: PG_URL });

function urlOf(role: string): string {
  const url = new URL(PG_URL);
  url.username = role;
  url.password = '';
  return url.toString();
}

/** The error a promise rejects with (undefined when it resolves). */
async function failure(p: Promise<unknown>): Promise<ConcordError | undefined> {
  return p.then(async (v) => { await (v as { close?: () => Promise<void> }).close?.(); return undefined; }, (e: unknown) => e as ConcordError);
}

beforeAll(async () => {
  await admin.connect();
  const owner = await openStore(PG_URL, { registry: seedRegistry(), schema });
  await owner.writeRealtime([win(0, '/a', 3)]);
  await owner.close();
  for (const role of Object.values(roles)) await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${roles.writer}, ${roles.reader}`);
  await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${roles.writer}`);
  await admin.query(`GRANT USAGE ON SEQUENCE ${schema}.change_seq TO ${roles.writer}`);
  await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${roles.reader}`);
});

afterAll(async () => {
  await schemas.drop();
  for (const role of Object.values(roles)) {
    await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
  }
  await admin.end();
});

describe('result store on PostgreSQL: roles and privileges', () => {
  it('a writers\' role with only the privileges to write opens the store and writes (CREATE SCHEMA IF NOT EXISTS refused it: permission denied for database)', async () => {
    const store = await openStore(urlOf(roles.writer), { registry: seedRegistry(), schema });
    try {
      await store.writeRealtime([win(0, '/a', 5, 1)]);
      expect((await store.current(P, DAY)).map((r) => r.values.views)).toEqual([5]);
    } finally {
      await store.close();
    }
  });

  it('a read-only role given to a writer is refused at open, a user error naming the privileges it lacks and the GRANT', async () => {
    const error = await failure(openStore(urlOf(roles.reader), { registry: seedRegistry(), schema }));
    expect(error).toBeInstanceOf(ConcordError);
    expect(error!.domain).toBe('user');
    expect(error!.message).toContain(`role "${roles.reader}" may not write the store in schema ${schema}`);
    expect(error!.message).toContain(`INSERT, UPDATE, DELETE on every table of ${schema}`);
    expect(error!.message).toContain(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${roles.reader}`);
    expect(error!.message).toContain(`GRANT USAGE ON SEQUENCE ${schema}.change_seq`);
  });

  it('the read-only role reads the store; a role without SELECT is refused naming it (it read as an empty store: "run concord stream first")', async () => {
    const reader = await openStoreReader(urlOf(roles.reader), { registry: seedRegistry(), schema });
    try {
      expect(await reader.read(async (s) => (await s.rows(P, { from: 0, to: 8.64e15, kind: 'window', version: 'live', limit: 10 })).length)).toBe(1);
    } finally {
      await reader.close();
    }
    const error = await failure(openStoreReader(urlOf(roles.none), { registry: seedRegistry(), schema }));
    expect(error?.domain).toBe('user');
    expect(error!.message).toContain(`role "${roles.none}" may not read the store in schema ${schema}: it lacks USAGE on schema ${schema}; SELECT on every table of ${schema}`);
  });

  it('an upgrade adding a table only writers read (quarantined_events): the reader granted SELECT before still reads; a writer is told the GRANT', async () => {
    // The layout of the release before quarantined_events, with the grants a DBA gave then; the owner's
    // first writer of the new release adds the table (its grants do not reach it).
    const upgraded = schemas.next('roles_upgrade');
    const owner = await openStore(PG_URL, { registry: seedRegistry(), schema: upgraded });
    await owner.writeRealtime([win(0, '/a', 3)]);
    await owner.close();
    await admin.query(`DROP TABLE ${upgraded}.quarantined_events`);
    await admin.query(`GRANT USAGE ON SCHEMA ${upgraded} TO ${roles.writer}, ${roles.reader}`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${upgraded} TO ${roles.writer}`);
    await admin.query(`GRANT USAGE ON SEQUENCE ${upgraded}.change_seq TO ${roles.writer}`);
    await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${upgraded} TO ${roles.reader}`);
    await (await openStore(PG_URL, { registry: seedRegistry(), schema: upgraded })).close();
    const [added] = (await admin.query(`SELECT to_regclass($1) AS t`, [`${upgraded}.quarantined_events`])).rows as { t: string | null }[];
    expect(added?.t).not.toBeNull();

    const reader = await openStoreReader(urlOf(roles.reader), { registry: seedRegistry(), schema: upgraded });
    try {
      expect(await reader.read(async (s) => (await s.rows(P, { from: 0, to: 8.64e15, kind: 'window', version: 'live', limit: 10 })).length)).toBe(1);
    } finally {
      await reader.close();
    }
    const error = await failure(openStore(urlOf(roles.writer), { registry: seedRegistry(), schema: upgraded }));
    expect(error?.domain).toBe('user');
    expect(error!.message).toContain(`SELECT, INSERT, UPDATE, DELETE on ${upgraded}.quarantined_events`);
  });

  it('a schema that is not there and a role that may not create it: a user error naming CONCORD_STORE_SCHEMA', async () => {
    const error = await failure(openStore(urlOf(roles.writer), { registry: seedRegistry(), schema: `${schema}_typo` }));
    expect(error?.domain).toBe('user');
    expect(error!.message).toContain(`schema ${schema}_typo does not exist`);
    expect(error!.message).toContain('CONCORD_STORE_SCHEMA');
  });

  it('a privilege revoked while a writer runs: its next write fails as a user error, not as the database down', async () => {
    const role = `concord_v_${tag}`;
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      await admin.query(`GRANT USAGE ON SEQUENCE ${schema}.change_seq TO ${role}`);
      const store = await openStore(urlOf(role), { registry: seedRegistry(), schema });
      try {
        await admin.query(`REVOKE INSERT, UPDATE ON ALL TABLES IN SCHEMA ${schema} FROM ${role}`);
        const error = await failure(store.writeRealtime([win(1, '/b', 1)]));
        expect(error?.domain).toBe('user');
        expect(error!.retriable).toBe(false);
        expect(error!.message).toMatch(/permission denied for table .*lacks a privilege on the store/);
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});
