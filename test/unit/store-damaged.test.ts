import { copyFileSync, mkdtempSync, openSync, closeSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { ridesRegistry } from '../fixtures/rides-store.ts';

// A DuckDB store file cut short (a full disk, a copy that stopped) or overwritten in part. Before
// 2026-12-07 a truncated file whose catalog was intact opened and `report` exited 1 with DuckDB's "Could
// not read enough bytes"; a corrupt block ("block at location N") was taken for a lock: "another process
// holds it". Now each is exit 2 (a user error), naming the damage and what to do. A check of the file's
// size against its header, before DuckDB opens it, refused whole stores too (a checkpoint trims free
// blocks after it wrote the header): DuckDB's own read errors say it.
describe('a damaged DuckDB store file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-store-damaged-'));
  const { registry } = ridesRegistry(dir);
  const whole = join(dir, 'whole.duckdb');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await (await openStore(`duckdb:${whole}`, { registry })).close();
  });

  const refusal = async (open: () => Promise<{ close(): Promise<void> }>): Promise<ConcordError> => {
    const error = await open().then(async (s) => { await s.close(); return undefined; }, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  };

  it('truncated: exit 2 naming the damage and what to do, for writers and readers, at the open or at the first read', async () => {
    const cut = join(dir, 'cut.duckdb');
    copyFileSync(whole, cut);
    truncateSync(cut, Math.floor(statSync(whole).size / 2));
    const opens = [() => openStore(`duckdb:${cut}`, { registry }), () => openStoreReader(`duckdb:${cut}`, { registry })];
    for (const [i, open] of opens.entries()) {
      // DuckDB may open a cut file whose catalog is whole and fail at the first read of a lost block.
      const error = await open().then(async (s) => {
        const failed = await (i === 0
          ? (s as Awaited<ReturnType<typeof openStore>>).realtimeResults('rides_per_city', '2026-01-01')
          : (s as Awaited<ReturnType<typeof openStoreReader>>).read((snap) => snap.totals())).then(() => undefined, (e: unknown) => e);
        await s.close().catch(() => undefined);
        return failed;
      }, (e: unknown) => e);
      expect(error).toBeInstanceOf(ConcordError);
      expect((error as ConcordError).domain).toBe('user');
      expect((error as ConcordError).message).toMatch(/damaged \(.*Could not read enough bytes.*\): restore the file from a backup, or move it aside and rebuild the store .*"Recovering: the store was lost"/);
    }
  });

  it('a whole store whose file a checkpoint made shorter (rows deleted) opens: a header counting more blocks than the file holds is no damage', async () => {
    const shrunk = join(dir, 'shrunk.duckdb');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const session = async (sql: string[]) => {
      const db = await DuckDBInstance.create(shrunk);
      const c = await db.connect();
      for (const q of sql) await c.run(q);
      c.closeSync();
      db.closeSync();
    };
    // DuckDB writes a checkpoint's header (its block count), then trims the free blocks at the file's end:
    // after these three the file is half what its header counts (measured: 3.9 MB against 7.6 MB).
    await session(['CREATE TABLE a AS SELECT range AS x, md5(range::text) AS y FROM range(200000)', 'CREATE TABLE b AS SELECT range AS x, md5(range::text) AS y FROM range(200000)', 'CHECKPOINT']);
    await session(['DROP TABLE b', 'CHECKPOINT']);
    await session(['DELETE FROM a WHERE x > 1000', 'CHECKPOINT']);
    await (await openStore(`duckdb:${shrunk}`, { registry })).close();
    await (await openStoreReader(`duckdb:${shrunk}`, { registry })).close();
  });

  it('a corrupt block: said damaged, not "another process holds it"', async () => {
    const bad = join(dir, 'bad.duckdb');
    copyFileSync(whole, bad);
    const fd = openSync(bad, 'r+');
    // Garbage into every block after the three headers: their checksums no longer match.
    for (let at = 3 * 4096 + 100; at < statSync(bad).size; at += 4096) writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, at);
    closeSync(fd);
    const error = await refusal(() => openStore(`duckdb:${bad}`, { registry }));
    expect(error.domain).toBe('user');
    expect(error.message).toMatch(/is damaged \(.*(Corrupt database file|checksum).*\): restore the file from a backup/);
    expect(error.message).not.toMatch(/another process/);
  });

  it('a whole store opens as before', async () => {
    await (await openStore(`duckdb:${whole}`, { registry })).close();
    await (await openStoreReader(`duckdb:${whole}`, { registry })).close();
  });
});
