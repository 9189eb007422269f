import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { schemaFolderGivenForRoot } from '../../batch/archive-layout.ts';
import { noArchivedDay } from '../../reconcile/no-archived-day.ts';

// `--archive archive/readings` (where the Parquet files are) instead of the root `archive`: the day
// error said "archive the day first", so a user archived again, into archive/readings/readings.
const dir = mkdtempSync(join(tmpdir(), 'concord-archive-slip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const archive = join(dir, 'archive');
mkdirSync(join(archive, 'readings', 'dt=2026-11-23', 'hour=09'), { recursive: true });

describe('an archive named by a folder inside it', () => {
  it('a schema\'s, day\'s or hour\'s folder names the root; the root itself and an unrelated folder do not', async () => {
    const root = `give the archive's root, ${archive}`;
    expect(await schemaFolderGivenForRoot(join(archive, 'readings'))).toBe(`${join(archive, 'readings')} is the folder of schema "readings" in the archive ${archive}: ${root}`);
    expect(await schemaFolderGivenForRoot(join(archive, 'readings', 'dt=2026-11-23', 'hour=09'))).toMatch(/is a folder inside the folder of schema "readings" in the archive .*: give the archive's root, /);
    expect(await schemaFolderGivenForRoot(join(archive, 'readings', 'dt=2026-11-23', 'hour=09'))).toContain(root);
    expect(await schemaFolderGivenForRoot(archive)).toBeUndefined();
    expect(await schemaFolderGivenForRoot(join(dir, 'elsewhere'))).toBeUndefined();
  });

  it('reconcile --date and backfill say so instead of "archive the day first"', async () => {
    const error = await noArchivedDay('2026-11-23', join(archive, 'readings'));
    expect(error.message).toBe(`no archived events for 2026-11-23: ${join(archive, 'readings')} is the folder of schema "readings" in the archive ${archive}: give the archive's root, ${archive}`);
    expect(error.slip).toBeDefined();
    expect((await noArchivedDay('2026-11-24', archive)).message).toBe(`no archived events for 2026-11-24 in ${archive}: archive the day first`);
  });
});
