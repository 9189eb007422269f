import { copyFileSync, mkdtempSync, openSync, closeSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { ridesRegistry } from '../fixtures/rides-store.ts';

// A DuckDB store file cut short (a full disk, a copy that stopped) or overwritten in part. Before
// 2026-12-07 a truncated file whose catalog was intact opened: `report` exited 1 with DuckDB's "Could
// not read enough bytes", a `sink` with nothing new wrote a checkpoint into it and exited 0; a corrupt
// block ("block at location N") was taken for a lock: "another process holds it". Now each is exit 2
// (a user error), naming the damage and what to do.
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

  it('truncated: refused before DuckDB opens it, for writers and readers, and left as it was', async () => {
    const cut = join(dir, 'cut.duckdb');
    copyFileSync(whole, cut);
    const size = Math.floor(statSync(whole).size / 2);
    truncateSync(cut, size);
    for (const open of [() => openStore(`duckdb:${cut}`, { registry }), () => openStoreReader(`duckdb:${cut}`, { registry })]) {
      const error = await refusal(open);
      expect(error.domain).toBe('user');
      expect(error.message).toMatch(new RegExp(`^the DuckDB store ${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged \\(${size} bytes where its header counts \\d+ blocks of \\d+ bytes, ${statSync(whole).size} bytes: truncated\\): ` +
        'restore the file from a backup, or move it aside and rebuild the store .*"Recovering: the store was lost"'));
    }
    expect(statSync(cut).size).toBe(size);
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
