import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { openStore, openStoreReader, otherStoresSaid, storeSchema } from '../../store/open-store.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { storeOptions } from '../../cli/commands/shared.ts';

// `postgres://...?schema=S` (Prisma's spelling) was passed to the driver, which ignores it: the store
// used schema `concord`, so a reader saw another store and a writer wrote into it. Now the URL's schema
// is the store's; one that disagrees with CONCORD_STORE_SCHEMA is refused before connecting (port 1:
// nothing listens there, so only a refusal before connecting names the setting).
describe('a schema in a PostgreSQL store URL', () => {
  afterEach(() => vi.unstubAllEnvs());
  const registry = seedRegistry();

  it('?schema=, ?currentSchema= and a search_path of one name are the store\'s schema', () => {
    expect(storeSchema('postgres://postgres@127.0.0.1:5432/db?schema=walk_s34', undefined)).toBe('walk_s34');
    expect(storeSchema('postgresql://u@h/db?sslmode=disable&currentSchema=team_b', undefined)).toBe('team_b');
    expect(storeSchema('postgres://u@h/db?search_path=team_c', 'team_c')).toBe('team_c');
    expect(storeSchema('postgres://u@h/db?sslmode=disable', 'team_d')).toBe('team_d');
    expect(storeSchema('postgres://u@h/db', undefined)).toBe('concord');
    // A DuckDB path with a question mark is a file name, not a query.
    expect(storeSchema('duckdb:odd?schema=x.duckdb', undefined)).toBe('concord');
  });

  it('the jobs\' store identity reads the same schema (an enqueuer and a worker given the URL agree)', () => {
    expect(storeIdentity('postgres://postgres@127.0.0.1:5432/db?schema=walk_s34')).toBe('postgres://postgres@127.0.0.1:5432/db schema walk_s34');
  });

  for (const [why, url, env, says] of [
    ['a URL and CONCORD_STORE_SCHEMA that disagree', 'postgres://u:secret@127.0.0.1:1/db?schema=walk_s34', 'other', '?schema=walk_s34 and CONCORD_STORE_SCHEMA=other name different schemas'],
    ['a search_path of several schemas', 'postgresql://u:secret@127.0.0.1:1/db?search_path=walk_s34,public', undefined, 'names several schemas'],
    ['two parameters naming two schemas', 'postgresql://u:secret@127.0.0.1:1/db?schema=a&currentSchema=b', undefined, '?schema=a and ?currentSchema=b name different schemas'],
    ['a schema name the store cannot take', 'postgresql://u:secret@127.0.0.1:1/db?schema=Bad-Name', undefined, 'store schema "Bad-Name" (the store URL\'s ?schema=)'],
  ] as const) {
    it(`${why} is refused before connecting (reader and writer, flag and env), the password in no message`, async () => {
      if (env !== undefined) vi.stubEnv('CONCORD_STORE_SCHEMA', env);
      for (const open of [() => openStoreReader(url, { registry }), () => openStore(url, { registry })]) {
        const error: unknown = await open().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as Error).message).toContain(says);
        expect((error as Error).message).not.toContain('secret');
      }
      vi.stubEnv('CONCORD_STORE', url);
      const fromEnv: unknown = await openStoreReader(undefined, { registry }).then(() => undefined, (e: unknown) => e);
      expect((fromEnv as Error).message).toContain(says);
    });
  }

  it('other query parameters still reach the driver (a connection is tried)', async () => {
    const error: unknown = await openStoreReader('postgres://postgres@127.0.0.1:1/db?sslmode=disable&connect_timeout=2', { registry }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ConfigError);
  });

  // Every command's --help said env CONCORD_STORE for the URL and nothing of the schema.
  it('the --store help of every command names CONCORD_STORE_SCHEMA and ?schema=', () => {
    expect(storeOptions.join('\n')).toContain('env CONCORD_STORE_SCHEMA, or ?schema=S in the URL');
  });

  it('an empty store beside filled ones is told to name their schema where it named its own', () => {
    // A report of `...?schema=walk_nope` was told to set CONCORD_STORE_SCHEMA=walk_s35: with the URL's, refused as two schemas.
    const pg = 'postgres://postgres@127.0.0.1:5432/test';
    expect(otherStoresSaid(['walk_s35'], `${pg}?schema=walk_nope`)).toBe('the same database holds Concord results in schema walk_s35: to read those, ' +
      'name the schema the writers ran with in the store URL (e.g. ?schema=walk_s35)');
    expect(otherStoresSaid(['walk_s35'], `${pg}?currentSchema=x`)).toMatch(/in the store URL \(e\.g\. \?currentSchema=walk_s35\)$/);
    expect(otherStoresSaid(['walk_s35'], pg)).toMatch(/set CONCORD_STORE_SCHEMA to the schema the writers ran with \(e\.g\. CONCORD_STORE_SCHEMA=walk_s35\)$/);
  });
});
