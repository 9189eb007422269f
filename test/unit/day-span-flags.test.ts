import { describe, expect, it, vi } from 'vitest';
import { daySpanFlags } from '../../cli/day-span-flags.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { dayRange } from '../../reconcile/day-range.ts';

// The real parser, its calls counted.
vi.mock('../../reconcile/day-range.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../reconcile/day-range.ts')>();
  return { ...real, dayRange: vi.fn(real.dayRange) };
});

describe('backfill --from/--to: the days, each flag checked', () => {
  it('gives every day of the range, both ends included', () => {
    expect(daySpanFlags('2026-11-30', '2026-12-02', undefined)).toEqual(['2026-11-30', '2026-12-01', '2026-12-02']);
    expect(daySpanFlags('2026-11-16', '2026-11-16', undefined)).toEqual(['2026-11-16']);
  });

  it('parses each day once (jobs/job-ids.ts datesBetween parsed and ordered both again)', () => {
    vi.mocked(dayRange).mockClear();
    expect(daySpanFlags('2026-11-30', '2026-12-02', undefined)).toHaveLength(3);
    expect(vi.mocked(dayRange).mock.calls.map(([d]) => d)).toEqual(['2026-11-30', '2026-12-02']);
  });

  it('refuses a day the calendar does not have, naming its flag (it ran from the next day)', () => {
    expect(() => daySpanFlags('2026-11-31', '2026-12-01', undefined)).toThrow(new ConfigError('--from: "2026-11-31" is not a date: use YYYY-MM-DD (UTC)'));
    expect(() => daySpanFlags('2026-11-01', '2026-02-30', undefined)).toThrow('--to: "2026-02-30" is not a date');
    expect(() => daySpanFlags('2026-11-1', '2026-11-02', undefined)).toThrow('--from: "2026-11-1" is not a date');
  });

  it('says which way round a backwards range goes', () => {
    expect(() => daySpanFlags('2026-11-22', '2026-11-16', undefined)).toThrow(
      new ConfigError('--from 2026-11-22 is after --to 2026-11-16: give the earlier day as --from (both are included)'));
  });

  it('says which half of the range is missing (it said "not both")', () => {
    expect(() => daySpanFlags('2026-11-16', undefined, undefined)).toThrow(
      new ConfigError('--from 2026-11-16 needs --to too (both days are included: --to 2026-11-16 for that day alone)'));
    expect(() => daySpanFlags(undefined, '2026-11-20', undefined)).toThrow('--to 2026-11-20 needs --from too');
    expect(() => daySpanFlags('2026-11-16', '2026-11-17', '2026-11-16')).toThrow('not both');
  });
});
