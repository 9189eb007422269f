import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { ridesRegistry } from '../fixtures/rides-store.ts';

// A `duckdb:<path>` store that names something other than a DuckDB file is the user's mistake, said
// before anything runs. DuckDB opened a .jsonl as an in-memory database: a stream "stored" its results
// in memory, lost them at exit and said nothing (exit 0).
describe('the path of a DuckDB store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-store-path-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const { registry } = ridesRegistry(dir);

  it('refuses another kind of file, a directory, and a file where a directory goes, for writers and readers', async () => {
    const events = join(dir, 'events.jsonl');
    writeFileSync(events, '{"ride_id":"r1"}\n');
    mkdirSync(join(dir, 'a-dir'));
    writeFileSync(join(dir, 'empty.duckdb'), '');
    const cases: [string, RegExp][] = [
      [events, /is not a DuckDB database \(another kind of file\)/],
      [join(dir, 'empty.duckdb'), /is not a DuckDB database \(an empty file\)/],
      [join(dir, 'a-dir'), /is a directory: name a DuckDB file/],
      [join(events, 'store.duckdb'), /events\.jsonl is a file, not a directory/],
    ];
    for (const [path, message] of cases) {
      await expect(openStore(`duckdb:${path}`, { registry })).rejects.toThrow(ConfigError);
      await expect(openStore(`duckdb:${path}`, { registry })).rejects.toThrow(message);
    }
    for (const [path, message] of cases.slice(0, 3)) await expect(openStoreReader(`duckdb:${path}`, { registry })).rejects.toThrow(message);
    expect(readFileSync(events, 'utf8')).toBe('{"ride_id":"r1"}\n');
  });

  it('opens a new file (its directory made) and a store it wrote before', async () => {
    const file = join(dir, 'new', 'store.duckdb');
    for (const path of [file, file]) await (await openStore(`duckdb:${path}`, { registry })).close();
    await (await openStoreReader(`duckdb:${file}`, { registry })).close();
  });
});
