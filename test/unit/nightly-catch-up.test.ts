import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { catchUpWindow, planNightly, withStoreNights } from '../../jobs/nightly-catch-up.ts';

// The clock is the run's `now`: no timing, the dates a run enqueues after an outage.
describe('the nightly run after the workers were down', () => {
  const at = Date.UTC(2026, 10, 21, 2, 0); // the run meant for 02:00 on the 21st
  const cron = '0 2 * * *';

  it('the late run takes every night missed, oldest first, from the date after the last enqueued one', () => {
    // Down from the 20th 23:00 to the 24th 10:00: BullMQ runs the 21st's job once, late, and schedules the 25th next.
    const now = Date.UTC(2026, 10, 24, 10, 0);
    expect(planNightly({ at, now, timeZone: 'UTC', cron, through: '2026-11-19', maxDays: 31 }))
      .toEqual({ dates: ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23'], leftOut: [] });
    // The next scheduled run (02:00 on the 25th) has only the 24th left.
    expect(planNightly({ at: Date.UTC(2026, 10, 25, 2, 0), now: Date.UTC(2026, 10, 25, 2, 0), timeZone: 'UTC', cron, through: '2026-11-23', maxDays: 31 }).dates)
      .toEqual(['2026-11-24']);
  });

  it('a run whose scheduled night was missed too takes the gap before it (the record of the last enqueued date)', () => {
    expect(planNightly({ at: Date.UTC(2026, 10, 25, 2, 0), now: Date.UTC(2026, 10, 25, 2, 0), timeZone: 'UTC', cron, through: '2026-11-20', maxDays: 31 }).dates)
      .toEqual(['2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24']);
  });

  it('Europe/Berlin 03:00 local: the run late by three days takes the local previous dates, none twice', () => {
    const berlin = Date.UTC(2026, 2, 29, 1, 0); // 03:00 CEST on the 29th of March, the night clocks went forward
    const now = Date.UTC(2026, 3, 1, 9, 0);
    expect(planNightly({ at: berlin, now, timeZone: 'Europe/Berlin', cron: '0 3 * * *', through: '2026-03-27', maxDays: 31 }).dates)
      .toEqual(['2026-03-28', '2026-03-29', '2026-03-30', '2026-03-31']);
  });

  it('no record (first run, Redis emptied): the scheduled night and what is final by now', () => {
    expect(planNightly({ at, now: at, timeZone: 'UTC', cron, maxDays: 31 }).dates).toEqual(['2026-11-20']);
    expect(planNightly({ at, now: Date.UTC(2026, 10, 22, 8, 0), timeZone: 'UTC', cron, maxDays: 31 }).dates).toEqual(['2026-11-20', '2026-11-21']);
  });

  it('an outage longer than the cap: the newest dates, and the ones left out said', () => {
    const plan = planNightly({ at, now: Date.UTC(2026, 10, 30, 3, 0), timeZone: 'UTC', cron, through: '2026-11-19', maxDays: 3 });
    expect(plan.dates).toEqual(['2026-11-27', '2026-11-28', '2026-11-29']);
    expect(plan.leftOut).toEqual(['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26']);
  });

  it('a record newer than the run (two runs on one date, a run re-enqueued by hand) changes nothing', () => {
    expect(planNightly({ at, now: at, timeZone: 'UTC', cron, through: '2026-11-20', maxDays: 31 }).dates).toEqual(['2026-11-20']);
    expect(planNightly({ at, now: at, timeZone: 'UTC', cron, through: '2026-11-25', maxDays: 31 }).dates).toEqual(['2026-11-20']);
  });
});

describe('the nightly run with the store\'s record of the nights (Redis\' own lost)', () => {
  const at = Date.UTC(2026, 10, 24, 2, 0); // on time, 02:00 on the 24th: Redis names the 23rd only
  const run = { at, now: at, timeZone: 'UTC', cron: '0 2 * * *', maxDays: 3 };

  it('reaches back CONCORD_NIGHTLY_CATCHUP_DAYS dates through the newest final one, no further', () => {
    expect(catchUpWindow(run)).toEqual(['2026-11-21', '2026-11-22', '2026-11-23']);
    expect(catchUpWindow({ ...run, maxDays: 1 })).toEqual(['2026-11-23']);
    // A late run: the window ends at the newest date final by its clock.
    expect(catchUpWindow({ ...run, now: Date.UTC(2026, 10, 26, 9, 0) })).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
  });

  it('takes the dates the store has not reconciled, and never one it has, whichever record named it', () => {
    const plan = planNightly(run);
    expect(plan.dates).toEqual(['2026-11-23']);
    expect(withStoreNights(plan, { done: new Set(['2026-11-20']), missing: ['2026-11-21', '2026-11-22'], unarchived: [] })).toEqual({
      dates: ['2026-11-21', '2026-11-22', '2026-11-23'], considered: ['2026-11-21', '2026-11-22', '2026-11-23'], reconciled: [], fromStore: ['2026-11-21', '2026-11-22'],
    });
    // Every night done (a rerun of the night, a CLI reconcile before it): nothing to enqueue, the range still backfilled.
    expect(withStoreNights(plan, { done: new Set(['2026-11-21', '2026-11-22', '2026-11-23']), missing: [], unarchived: [] }))
      .toEqual({ dates: [], considered: ['2026-11-23'], reconciled: ['2026-11-23'], fromStore: [] });
    // Redis' record kept: its dates stay, a day it names that the archive lacks too (its reconcile fails loud, as before).
    const kept = planNightly({ ...run, through: '2026-11-21' });
    expect(withStoreNights(kept, { done: new Set(), missing: ['2026-11-23'], unarchived: ['2026-11-22'] }).dates).toEqual(['2026-11-22', '2026-11-23']);
  });
});

describe('a schedule at a local hour across DST (Europe/Berlin)', () => {
  // What docs/operations.md promises a team asking for 03:00 local: once a night, at 03:00 CET or CEST,
  // and what a time in the hour skipped or repeated does. BullMQ runs the times cron-parser gives.
  const runs = (cron: string, from: string) => {
    const it = CronExpressionParser.parse(cron, { tz: 'Europe/Berlin', currentDate: new Date(from) });
    return [0, 1, 2].map(() => it.next().toISOString());
  };

  it('03:00 runs once each night, 03:00 local on both sides of both changes', () => {
    expect(runs('0 3 * * *', '2026-03-28T12:00:00Z')).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T01:00:00.000Z', '2026-03-31T01:00:00.000Z']);
    expect(runs('0 3 * * *', '2026-10-24T12:00:00Z')).toEqual(['2026-10-25T02:00:00.000Z', '2026-10-26T02:00:00.000Z', '2026-10-27T02:00:00.000Z']);
  });

  it('02:30, in the hour skipped in March, runs at 03:30 CEST that night; in the hour repeated in October, once (the first)', () => {
    expect(runs('30 2 * * *', '2026-03-28T12:00:00Z')).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
    expect(runs('30 2 * * *', '2026-10-24T12:00:00Z')).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z']);
  });

  it('each of those runs reconciles the local day before, none twice, none left out', () => {
    const dates = ['2026-03-29T01:00:00.000Z', '2026-03-30T01:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-26T02:00:00.000Z']
      .map((t) => planNightly({ at: Date.parse(t), now: Date.parse(t), timeZone: 'Europe/Berlin', cron: '0 3 * * *', maxDays: 31 }).dates);
    expect(dates).toEqual([['2026-03-28'], ['2026-03-29'], ['2026-10-24'], ['2026-10-25']]);
  });
});
