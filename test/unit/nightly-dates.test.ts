import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { nightlyDates, previousDate } from '../../jobs/job-ids.ts';

describe('the dates a nightly run reconciles', () => {
  it('the run after a DST change takes the date the 25-hour gap would skip', () => {
    // 01:30 Europe/Berlin: 23:30 UTC on the 24th (CEST) reconciles the 23rd (the 24th has not ended in UTC);
    // the next run, 01:30 CET on the 26th = 00:30 UTC, reconciles the 25th. The 24th must not be left out.
    expect(previousDate(Date.UTC(2026, 9, 24, 23, 30), 'Europe/Berlin')).toBe('2026-10-23');
    expect(nightlyDates(Date.UTC(2026, 9, 26, 0, 30), 'Europe/Berlin', '30 1 * * *')).toEqual(['2026-10-24', '2026-10-25']);
    // 00:30 Europe/Lisbon, the same night.
    expect(nightlyDates(Date.UTC(2026, 9, 26, 0, 30), 'Europe/Lisbon', '30 0 * * *')).toEqual(['2026-10-24', '2026-10-25']);
    // An ordinary night: one date, previousDate's.
    expect(nightlyDates(Date.UTC(2026, 10, 24, 2, 0), 'UTC', '0 2 * * *')).toEqual(['2026-11-23']);
    // Without the cron (a schedule stored before it was kept with the job): the one date.
    expect(nightlyDates(Date.UTC(2026, 9, 26, 0, 30), 'Europe/Berlin')).toEqual(['2026-10-25']);
  });

  it('a year of daily runs in zones with DST leaves no date out', () => {
    // The zones and hours where previousDate alone skipped a date (and a few where it never did).
    const runs: [string, number[]][] = [['Europe/Berlin', [1, 2]], ['Europe/Lisbon', [0, 1]], ['Australia/Sydney', [10]], ['Pacific/Auckland', [12]],
      ['America/Santiago', [0]], ['America/New_York', [2, 20]], ['UTC', [2]]];
    for (const [tz, hours] of runs) {
      for (const h of hours) {
        const cron = `30 ${h} * * *`;
        const it = CronExpressionParser.parse(cron, { tz, currentDate: new Date('2026-01-01T00:00:00Z') });
        const seen = new Set<string>();
        for (let i = 0; i < 370; i++) {
          const t = it.next().getTime();
          const dates = nightlyDates(t, tz, cron);
          expect(dates[dates.length - 1]).toBe(previousDate(t, tz));
          for (const d of dates) seen.add(d);
        }
        const sorted = [...seen].sort();
        const days = (Date.parse(sorted[sorted.length - 1]!) - Date.parse(sorted[0]!)) / 86_400_000 + 1;
        expect(sorted.length, `${cron} ${tz}`).toBe(days);
      }
    }
  });
});
