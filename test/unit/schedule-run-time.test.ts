import { describe, expect, it } from 'vitest';
import { describeRunTime } from '../../jobs/schedule.ts';

describe('jobs schedule: the next run, for people', () => {
  it('adds the wall-clock time in the schedule zone, on both sides of a DST change', () => {
    expect(describeRunTime(Date.UTC(2026, 9, 24, 23, 30), 'Europe/Berlin')).toMatch(/^2026-10-24T23:30:00\.000Z \(2026-10-25 01:30 Europe\/Berlin, GMT\+2\)$/);
    expect(describeRunTime(Date.UTC(2026, 9, 26, 0, 30), 'Europe/Berlin')).toMatch(/^2026-10-26T00:30:00\.000Z \(2026-10-26 01:30 Europe\/Berlin, GMT\+1\)$/);
  });

  it('says UTC once for a schedule in UTC', () => {
    expect(describeRunTime(Date.UTC(2026, 11, 7, 2, 0), 'UTC')).toBe('2026-12-07T02:00:00.000Z');
  });
});
