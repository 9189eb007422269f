import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { statusLine } from '../../cli/commands/jobs.ts';
import { loadSettings } from '../../cli/config.ts';
import { loadNightlyWait } from '../../cli/nightly-wait-config.ts';
import { streamGate } from '../../jobs/stream-wait.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { dayFinalAt, streamBehind } from '../../store/day-status.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The nightly reconcile's wait for a stream behind its day (jobs/stream-wait.ts): the decision, the
// settings that bound it, and what `jobs status` says of a waiting job. The jobs themselves, with Redis
// and a store: test/integration/jobs-stream-wait.test.ts.
const DAY = '2026-11-23';
const HOUR = 3_600_000;
const settings = { maxWaitMs: 6 * HOUR, recheckMs: 5 * 60_000 };
const at8 = Date.parse('2026-11-23T08:00:00.000Z');
const store = (w: number | null) => ({ watermark: async () => w });
const ws = tempWorkspace('concord-nightly-s36-');
afterAll(() => ws.cleanup());

describe('a reconcile job and a stream behind its day', () => {
  it('the check is reconcile --date\'s: a watermark short of the day\'s end, none when no stream ever wrote one', async () => {
    const behind = await streamBehind(store(at8), pageViewsPerMinute, DAY);
    expect(behind).toEqual({ watermark: at8, finalAt: dayFinalAt(pageViewsPerMinute, DAY) });
    expect(await streamBehind(store(null), pageViewsPerMinute, DAY)).toBeUndefined();
    expect(await streamBehind(store(Date.parse('2026-11-23T23:59:20.000Z')), pageViewsPerMinute, DAY)).toBeUndefined();
  });

  it('a nightly job waits until the max wait from its first check, then goes on with a note; by hand it goes on at once, noted', async () => {
    const behind = (await streamBehind(store(at8), pageViewsPerMinute, DAY))!;
    const now = Date.parse('2026-11-24T02:00:00.000Z');
    const first = streamGate(behind, { waitForStream: true }, now, settings);
    expect(first).toEqual({
      wait: true, delayMs: 5 * 60_000,
      why: 'waiting for the stream: watermark at 2026-11-23T08:00:00.000Z, the day is final at 2026-11-24T00:05:30.000Z; checked again every 5m, ' +
        'reconciled anyway at 2026-11-24T08:00:00.000Z (nightly max wait 6h)',
    });
    // The last check before the bound waits only what is left of it.
    expect(streamGate(behind, { waitForStream: true, since: now }, now + 6 * HOUR - 60_000, settings)).toMatchObject({ wait: true, delayMs: 60_000 });
    const late = streamGate(behind, { waitForStream: true, since: now }, now + 6 * HOUR, settings);
    expect(late.wait).toBe(false);
    expect(!late.wait && late.note).toMatch(/^reconciled after waiting 6h for the stream \(the nightly max wait\): the stream's watermark is at 2026-11-23T08:00:00.000Z, before the day's end/);
    expect(streamGate(behind, { waitForStream: true }, now, { ...settings, maxWaitMs: 0 })).toMatchObject({ wait: false, note: expect.stringMatching(/^reconciled without waiting for the stream \(nightly max wait 0\): /) });
    const byHand = streamGate(behind, {}, now, settings);
    expect(byHand).toEqual({ wait: false, note: expect.stringMatching(/^the stream's watermark is at 2026-11-23T08:00:00.000Z, before the day's end .*events up to 2026-11-24T00:05:30.000Z$/) });
    expect(streamGate(undefined, { waitForStream: true }, now, settings)).toEqual({ wait: false });
  });

  it('a stream whose bounded input ended short of the day is not waited for: the note says which run and where its input ended', async () => {
    const end = { run: 'concord stream --pipeline page_views_per_minute --input day.jsonl (definition version v1)', at: 'day.jsonl to its end (420 lines)', watermark: at8, endedAt: Date.parse('2026-11-23T09:00:00.000Z') };
    const ended = (await streamBehind({ ...store(at8), inputEnd: async () => end }, pageViewsPerMinute, DAY))!;
    expect(ended).toEqual({ watermark: at8, finalAt: dayFinalAt(pageViewsPerMinute, DAY), inputEnded: end });
    // Not behind: an input end changes nothing (no note).
    expect(await streamBehind({ ...store(Date.parse('2026-11-23T23:59:20.000Z')), inputEnd: async () => end }, pageViewsPerMinute, DAY)).toBeUndefined();
    const now = Date.parse('2026-11-24T02:00:00.000Z');
    const gate = streamGate(ended, { waitForStream: true }, now, settings);
    expect(gate).toEqual({
      wait: false,
      note: expect.stringMatching(/^reconciled without waiting for the stream \(its input ended\): the stream's watermark is at 2026-11-23T08:00:00.000Z, before the day's end .*; its input ended there: /),
    });
    expect(!gate.wait && gate.note).toContain(`its input ended there: ${end.run} read ${end.at} at 2026-11-23T09:00:00.000Z (a bounded run: no more of the day is coming from it)`);
    // By hand: the same note as reconcile --date's, which says the input ended too.
    expect(streamGate(ended, {}, now, settings)).toEqual({ wait: false, note: expect.stringMatching(/^the stream's watermark is at .*; its input ended there: concord stream /) });
  });

  it('jobs status says why a job waits, and counts its checks as no attempts', () => {
    const why = 'waiting for the stream: watermark at 2026-11-23T08:00:00.000Z, the day is final at 2026-11-24T00:05:30.000Z; ...';
    // Started three times (BullMQ counts each check's start), checked three times: no attempt yet.
    const job = { id: 'reconcile__p__2026-11-23', name: 'reconcile', attemptsMade: 0, attemptsStarted: 3, progress: { waiting: why } };
    const data = { kind: 'reconcile' as const, pipeline: 'p', date: DAY, waitForStream: true, streamWait: { since: 0, checks: 3 } };
    expect(statusLine({ ...job, state: 'delayed', data })).toBe(`reconcile__p__2026-11-23 delayed attempts=0 — ${why}`);
    // Delayed for another reason (a retry's backoff, a locked day): nothing said, as before.
    expect(statusLine({ ...job, state: 'active', progress: 0, attemptsStarted: 4, data })).toBe('reconcile__p__2026-11-23 active attempts=1');
    expect(statusLine({ ...job, state: 'delayed', progress: 0, attemptsStarted: 1, data: { kind: 'reconcile', pipeline: 'p', date: DAY } })).toBe('reconcile__p__2026-11-23 delayed attempts=1');
  });

  it('the wait is a layered setting: flag over environment over config file, a bad one named', () => {
    expect(loadNightlyWait({}, {})).toEqual({ maxWaitMs: 6 * HOUR, recheckMs: 5 * 60_000 });
    const file = ws.file('config.json', [{ nightlyMaxWait: '3h', nightlyRecheck: 30_000 }]);
    expect(loadNightlyWait({ config: file }, {})).toEqual({ maxWaitMs: 3 * HOUR, recheckMs: 30_000 });
    expect(loadNightlyWait({ config: file }, { CONCORD_NIGHTLY_MAX_WAIT: '0' })).toEqual({ maxWaitMs: 0, recheckMs: 30_000 });
    // The file's keys are known to every command reading it (loadSettings refuses unknown ones).
    expect(() => loadSettings({ config: file }, {})).not.toThrow();
    expect(loadNightlyWait({ 'nightly-max-wait': '2h' }, { CONCORD_NIGHTLY_MAX_WAIT: '30m', CONCORD_NIGHTLY_RECHECK: '1m' })).toEqual({ maxWaitMs: 2 * HOUR, recheckMs: 60_000 });
    expect(() => loadNightlyWait({}, { CONCORD_NIGHTLY_MAX_WAIT: 'soon' })).toThrow(ConfigError);
    expect(() => loadNightlyWait({}, { CONCORD_NIGHTLY_MAX_WAIT: 'soon' })).toThrow(/^environment CONCORD_NIGHTLY_MAX_WAIT: "soon" is not a duration/);
    expect(() => loadNightlyWait({ 'nightly-recheck': '0' }, {})).toThrow('--nightly-recheck 0: use 100ms or more (e.g. 5m)');
  });
});
