import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { storeOptions } from '../../cli/commands/shared.ts';

// `postgres://...?schema=S` (Prisma's spelling) was passed to the driver, which ignores it: the store
// used schema `concord`, so a reader saw another store and a writer wrote into it. Port 1: nothing
// listens there, so only a refusal before connecting names the setting to use.
describe('a schema in a PostgreSQL store URL', () => {
  afterEach(() => vi.unstubAllEnvs());
  const registry = seedRegistry();

  for (const [param, url] of [
    ['schema', 'postgres://postgres@127.0.0.1:1/db?schema=walk_s34'],
    ['search_path', 'postgresql://u:secret@127.0.0.1:1/db?sslmode=disable&search_path=walk_s34'],
  ] as const) {
    it(`?${param}= is refused before connecting, naming CONCORD_STORE_SCHEMA (reader and writer, flag and env)`, async () => {
      for (const open of [() => openStoreReader(url, { registry }), () => openStore(url, { registry })]) {
        const error: unknown = await open().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as Error).message).toContain(`set CONCORD_STORE_SCHEMA=walk_s34 and drop ?${param}= from the URL`);
        expect((error as Error).message).not.toContain('secret');
      }
      vi.stubEnv('CONCORD_STORE', url);
      const fromEnv: unknown = await openStoreReader(undefined, { registry }).then(() => undefined, (e: unknown) => e);
      expect((fromEnv as Error).message).toContain('CONCORD_STORE_SCHEMA=walk_s34');
    });
  }

  it('other query parameters still reach the driver (a connection is tried)', async () => {
    const error: unknown = await openStoreReader('postgres://postgres@127.0.0.1:1/db?sslmode=disable&connect_timeout=2', { registry }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain('CONCORD_STORE_SCHEMA');
  });

  // Every command's --help said env CONCORD_STORE for the URL and nothing of the schema, so a user put it in the URL.
  it('the --store help of every command names CONCORD_STORE_SCHEMA', () => {
    expect(storeOptions.join('\n')).toContain('env CONCORD_STORE_SCHEMA (not ?schema= in the URL)');
  });
});
