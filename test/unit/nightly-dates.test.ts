import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { datesBetween, nightlyDates, previousDate } from '../../jobs/job-ids.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { dayFinalAt } from '../../store/day-status.ts';

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

  it('a pipeline whose days stay open past the run takes the dates final by then, none left out', () => {
    const defs = parseDefinitions({
      schemas: { clicks: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', url: 'string' } } },
      pipelines: {
        minute: { input: 'clicks', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
        daily: { input: 'clicks', window: { tumbling: '24h' }, aggregates: { n: 'count' } },
        rolling: { input: 'clicks', window: { hopping: '24h', every: '1h' }, aggregates: { n: 'count' } },
        weekly: { input: 'clicks', window: { tumbling: '168h' }, aggregates: { n: 'count' } },
      },
    }, 'test');
    const at = (name: string) => (date: string) => dayFinalAt(withTiming(defs.pipeline(name), { maxOutOfOrderness: 30_000, allowedLateness: 300_000 }), date);
    const dayEnd = Date.UTC(2026, 10, 24);
    expect(at('minute')('2026-11-23')).toBe(dayEnd + 330_000);
    expect(at('daily')('2026-11-23')).toBe(dayEnd + 330_000); // UTC days: the day's window ends with it
    expect(at('rolling')('2026-11-23')).toBe(dayEnd + 23 * 3_600_000 + 330_000); // the window starting 23:00
    const run = Date.UTC(2026, 10, 24, 2, 0);
    expect(nightlyDates(run, 'UTC', '0 2 * * *', at('minute'))).toEqual(['2026-11-23']);
    expect(nightlyDates(run, 'UTC', '0 2 * * *', at('daily'))).toEqual(['2026-11-23']);
    expect(nightlyDates(run, 'UTC', '0 2 * * *', at('rolling'))).toEqual(['2026-11-22']);
    // Runs at 00:03, before B + L passed: the day before, then both the next night.
    expect(nightlyDates(Date.UTC(2026, 10, 24, 0, 3), 'UTC', '3 0 * * *', at('minute'))).toEqual(['2026-11-22']);
    // Three weeks of nightly runs over weekly windows (epoch-aligned: Thursdays) take every date, each
    // after its window closed: a week's seven at once (a night with no new final date repeats the last:
    // one job per pipeline and date, as enqueueing twice is).
    const seen = new Set<string>();
    for (let d = 0; d < 21; d++) {
      const t = Date.UTC(2026, 10, 1 + d, 2, 0);
      for (const date of nightlyDates(t, 'UTC', '0 2 * * *', at('weekly'))) {
        expect(at('weekly')(date), date).toBeLessThanOrEqual(t);
        seen.add(date);
      }
    }
    expect(nightlyDates(Date.UTC(2026, 10, 12, 2, 0), 'UTC', '0 2 * * *', at('weekly'))).toEqual(['2026-11-05', '2026-11-06', '2026-11-07', '2026-11-08', '2026-11-09', '2026-11-10', '2026-11-11']);
    const sorted = [...seen].sort();
    expect((Date.parse(sorted.at(-1)!) - Date.parse(sorted[0]!)) / 86_400_000 + 1).toBe(sorted.length);
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

describe('datesBetween', () => {
  it('refuses a day the calendar lacks (2026-11-31 was read as 2026-12-01 and the range ran from there)', () => {
    expect(datesBetween('2026-11-30', '2026-12-01')).toEqual(['2026-11-30', '2026-12-01']);
    expect(() => datesBetween('2026-11-31', '2026-12-02')).toThrow('"2026-11-31" is not a date: use YYYY-MM-DD (UTC)');
    expect(() => datesBetween('2026-02-01', '2026-02-29')).toThrow('"2026-02-29" is not a date');
    expect(() => datesBetween('2026-11-22', '2026-11-16')).toThrow('the first is after the last');
  });
});
