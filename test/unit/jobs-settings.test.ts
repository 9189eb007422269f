import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveHasEventTimes } from '../../batch/archive-layout.ts';
import { RedisUnreachableError } from '../../jobs/redis-connection.ts';
import { redact } from '../../store/sql-driver.ts';
import { validateSchedule } from '../../jobs/schedule.ts';
import { statusLine } from '../../cli/commands/jobs.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';
import { clicksSchema } from '../../examples/seed.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

describe('what the jobs commands show and compare', () => {
  it('a Redis URL is shown without its password, whatever the user part', () => {
    expect(redact('redis://:s3cret@host:6379/0')).toBe('redis://:***@host:6379/0');
    expect(redact('rediss://alice:p@ss:w0rd@host:6380')).toBe('rediss://alice:***@host:6380');
    expect(redact('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redact('redis://alice@host')).toBe('redis://alice@host');
    expect(redact('postgres://:pw@host:5432/db')).toBe('postgres://:***@host:5432/db');
    expect(redact('postgres://bob:p@ss@host/db')).toBe('postgres://bob:***@host/db');
    expect(new RedisUnreachableError('redis://u:pw@h:1').message).toBe('Redis at redis://u:***@h:1 does not answer; start it or set REDIS_URL');
  });

  it('a store is one comparable string: defaults resolved, no password, the schema included', () => {
    expect(storeIdentity('postgres://app:secret@db.example:5433/prod', 'concord')).toBe('postgres://app@db.example:5433/prod schema concord');
    expect(storeIdentity('postgresql://app@db.example/prod', 'x')).toBe('postgres://app@db.example:5432/prod schema x');
    expect(storeIdentity('duckdb:rel/store.duckdb', 'concord')).toBe(`duckdb:${resolve('rel/store.duckdb')} schema concord`);
    expect(storeIdentity('duckdb:rel/store.duckdb', 'a')).not.toBe(storeIdentity('duckdb:rel/store.duckdb', 'b'));
    expect(storeIdentity('postgres://app:one@h/db', 's')).toBe(storeIdentity('postgres://app:two@h:5432/db', 's'));
  });

  it('a job a retry completed is shown completed, its earlier attempt\'s error as such', () => {
    const job = { id: 'reconcile__p__2026-11-23', name: 'reconcile', data: { kind: 'reconcile' as const, pipeline: 'p', date: '2026-11-23' }, attemptsMade: 2, progress: 0, failedReason: 'connection lost' };
    expect(statusLine({ ...job, state: 'completed', result: { generation: 1 } })).toBe('reconcile__p__2026-11-23 completed attempts=2 {"generation":1} (an earlier attempt failed: connection lost)');
    expect(statusLine({ ...job, state: 'failed' })).toBe('reconcile__p__2026-11-23 failed attempts=2 — failed: connection lost');
  });

  // The worker said "attempt 2" for a job whose first run a dead worker cut off; status said attempts=1
  // (BullMQ's attemptsMade does not count a stalled run).
  it('attempts count the runs started, as the worker does: a run a dead worker cut off counts', () => {
    const job = { id: 'reconcile__p__2026-11-23', name: 'reconcile', data: { kind: 'reconcile' as const, pipeline: 'p', date: '2026-11-23' }, progress: 0 };
    expect(statusLine({ ...job, state: 'active', attemptsMade: 0, attemptsStarted: 2 })).toBe('reconcile__p__2026-11-23 active attempts=2');
    expect(statusLine({ ...job, state: 'completed', attemptsMade: 2, attemptsStarted: 3 })).toBe('reconcile__p__2026-11-23 completed attempts=3');
    expect(statusLine({ ...job, state: 'waiting', attemptsMade: 0, attemptsStarted: 0 })).toBe('reconcile__p__2026-11-23 waiting attempts=0');
  });

  it('a cron or time zone that cannot run is refused naming the option', () => {
    expect(() => validateSchedule('0 2 * * *', 'Europe/Paris')).not.toThrow();
    expect(() => validateSchedule('*/15 * * * *', 'UTC')).not.toThrow();
    const err = (cron: string, tz: string) => { try { validateSchedule(cron, tz); } catch (e) { return e; } return undefined; };
    const bad = err('bad', 'UTC');
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as Error).message).toMatch(/^--cron "bad" is not a cron expression \(Validation error, cannot resolve alias "bad"\): use five fields/);
    expect((err('61 2 * * *', 'UTC') as Error).message).toMatch(/^--cron "61 2 \* \* \*" is not a cron expression/);
    // Fewer fields parse (the missing ones read as *) but do not mean what they seem: "0 2 * *" is every minute of 2 January.
    expect((err('0 2 * *', 'UTC') as Error).message).toBe('--cron "0 2 * *" has 4 fields: use five, minute hour day month weekday, e.g. "0 2 * * *" (or six, seconds first) (env CONCORD_NIGHTLY_CRON)');
    expect((err('2', 'UTC') as Error).message).toMatch(/^--cron "2" has 1 field: use five/);
    expect(() => validateSchedule('0 0 2 * * *', 'UTC')).not.toThrow();
    expect(() => validateSchedule('@daily', 'UTC')).not.toThrow();
    expect((err('0 2 * * *', 'Mars/Base') as Error).message).toBe('--tz "Mars/Base" is not a time zone: use an IANA name such as UTC or Europe/Paris (env CONCORD_NIGHTLY_TZ)');
    // An abbreviation the runtime takes as a zone is refused as a schema's time_zone is: EST is Panama's time all year.
    expect((err('0 2 * * *', 'EST') as Error).message).toBe('--tz "EST" is fixed UTC-05:00 all year (no daylight saving); for New York write "America/New_York", or "-05:00" if a fixed offset is meant (env CONCORD_NIGHTLY_TZ)');
    expect((err('0 2 * * *', 'IST') as Error).message).toMatch(/^--tz "IST" is an abbreviation, no zone .*for India write "Asia\/Kolkata"/);
    expect(() => validateSchedule('0 2 * * *', 'America/New_York')).not.toThrow();
  });

  it('archived event times: an event-time hour partition overlapping the range holds a Parquet file', async () => {
    const ws = tempWorkspace();
    try {
      const hour = join(ws.dir, 'clicks', 'dt=2026-11-23', 'hour=05');
      mkdirSync(hour, { recursive: true });
      const day = (d: string) => ({ from: Date.parse(`${d}T00:00:00Z`), to: Date.parse(`${d}T00:00:00Z`) + 86_400_000 });
      expect(await archiveHasEventTimes(ws.dir, clicksSchema, day('2026-11-23'))).toBe(false); // a directory alone is no data
      writeFileSync(join(hour, 'file_clicks.jsonl-0-9.parquet'), 'x');
      expect(await archiveHasEventTimes(ws.dir, clicksSchema, day('2026-11-23'))).toBe(true);
      expect(await archiveHasEventTimes(ws.dir, clicksSchema, day('2026-11-22'))).toBe(false);
      expect(await archiveHasEventTimes(join(ws.dir, 'nope'), clicksSchema, day('2026-11-23'))).toBe(false);
      // Hours, not days: 05:00-06:00 of the 23rd, reached from the day before (22nd 23:40 to 23rd 05:10) or not.
      expect(await archiveHasEventTimes(ws.dir, clicksSchema, { from: Date.parse('2026-11-22T23:40:00Z'), to: Date.parse('2026-11-23T05:10:00Z') })).toBe(true);
      expect(await archiveHasEventTimes(ws.dir, clicksSchema, { from: Date.parse('2026-11-22T23:40:00Z'), to: Date.parse('2026-11-23T05:00:00Z') })).toBe(false);
      expect(await archiveHasEventTimes(ws.dir, clicksSchema, { from: Date.parse('2026-11-23T06:00:00Z'), to: Date.parse('2026-11-24T00:00:00Z') })).toBe(false);
    } finally {
      ws.cleanup();
    }
  });
});
