import { afterEach, describe, expect, it, vi } from 'vitest';
import { envNumber } from '../../pipeline/env-number.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { jobSettings } from '../../jobs/job-queue.ts';
import { DEFAULT_MAX_LINE_BYTES, maxLineBytes } from '../../sources/line-limits.ts';
import { openStore } from '../../store/open-store.ts';
import { seedRegistry } from '../../examples/seed.ts';

// Environment settings that are not what they must be are the user's mistake, said with exit 2 (no
// silent fallback, no stack trace after a database was opened).
describe('environment settings', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('CONCORD_MAX_LINE_BYTES: a positive whole number of bytes; anything else is refused (it fell back to 1 MiB silently)', () => {
    expect(maxLineBytes({})).toBe(DEFAULT_MAX_LINE_BYTES);
    expect(maxLineBytes({ CONCORD_MAX_LINE_BYTES: '' })).toBe(DEFAULT_MAX_LINE_BYTES);
    expect(maxLineBytes({ CONCORD_MAX_LINE_BYTES: '2097152' })).toBe(2_097_152);
    for (const raw of ['abc', '2MB', '0', '-5', '1.5']) {
      expect(() => maxLineBytes({ CONCORD_MAX_LINE_BYTES: raw })).toThrow(ConfigError);
      expect(() => maxLineBytes({ CONCORD_MAX_LINE_BYTES: raw })).toThrow(`environment CONCORD_MAX_LINE_BYTES "${raw}": use a whole number of bytes`);
    }
  });

  // Every CONCORD_* number is read by one helper: a bare Number() made "5s" NaN (jobs with NaN attempts,
  // a NaN session timeout), far from where it was set.
  it('numbers from the environment: the default when unset or empty, else a valid number or the user\'s error naming it', () => {
    expect(envNumber('X', 7, {}, {})).toBe(7);
    expect(envNumber('X', 7, {}, { X: ' ' })).toBe(7);
    expect(envNumber('X', 7, { integer: true, min: 1 }, { X: '12' })).toBe(12);
    expect(envNumber('X', undefined, {}, {})).toBeUndefined();
    expect(() => envNumber('X', 7, { integer: true, min: 1, unit: 'attempts' }, { X: '1.5' })).toThrow('environment X "1.5": use a whole number of attempts, at least 1 (default 7)');
    expect(() => envNumber('X', 7, { unit: 'milliseconds' }, { X: '5s' })).toThrow('environment X "5s": use a number of milliseconds, 0 or more (default 7)');
    expect(() => envNumber('X', 7, {}, { X: '-1' })).toThrow(ConfigError);
    vi.stubEnv('CONCORD_JOB_ATTEMPTS', 'five');
    expect(() => jobSettings()).toThrow('environment CONCORD_JOB_ATTEMPTS "five": use a whole number of attempts, at least 1 (default 5)');
    vi.stubEnv('CONCORD_JOB_ATTEMPTS', '3');
    expect(jobSettings().attempts).toBe(3);
  });

  it('CONCORD_STORE_SCHEMA and CONCORD_SEAL_DELAY_MS are checked before the store is opened, as the user\'s', async () => {
    vi.stubEnv('CONCORD_STORE_SCHEMA', 'x"; drop');
    await expect(openStore('duckdb::memory:', { registry: seedRegistry() })).rejects.toThrow(ConfigError);
    await expect(openStore('duckdb::memory:', { registry: seedRegistry() })).rejects.toThrow('store schema "x"; drop" (env CONCORD_STORE_SCHEMA)');
    vi.stubEnv('CONCORD_STORE_SCHEMA', 'wc_ok');
    vi.stubEnv('CONCORD_SEAL_DELAY_MS', '3d');
    await expect(openStore('duckdb::memory:', { registry: seedRegistry() })).rejects.toThrow('environment CONCORD_SEAL_DELAY_MS "3d": use a whole number of milliseconds');
  });

  it('a DuckDB setting it refuses is named as the environment\'s, not "another process may hold it"', async () => {
    vi.stubEnv('CONCORD_DUCKDB_MEMORY', 'lots');
    const opened = openStore('duckdb::memory:', { registry: seedRegistry() });
    await expect(opened).rejects.toThrow(ConfigError);
    await expect(openStore('duckdb::memory:', { registry: seedRegistry() })).rejects.toThrow(/Failed to set config: check CONCORD_DUCKDB_MEMORY/);
  });
});
