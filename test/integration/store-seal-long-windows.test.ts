import { afterAll, describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { dayReach, windowOf } from '../../store/day-status.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { storeBackends } from '../fixtures/result-store.ts';

// A day's rows are the windows starting in it. A window longer than the seal delay (a week, sealed 72 h
// after its first day) fires after that: sealing by the day's end alone hid its first value and every
// update within L (kept aside as late-delta and dirty, though nothing was late).
const registry = parseDefinitions({
  schemas: { ev: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', k: 'string' } } },
  pipelines: {
    weekly: { input: 'ev', key: 'k', window: { tumbling: '168h' }, aggregates: { n: 'count' } },
    weekly_daily: { input: 'ev', key: 'k', window: { hopping: '168h', every: '24h' }, aggregates: { n: 'count' } },
    seven_minutes: { input: 'ev', key: 'k', window: { tumbling: '7m' }, aggregates: { n: 'count' } },
    minutes: { input: 'ev', key: 'k', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
    burst: { input: 'ev', key: 'k', rule: { within: '5m', count: true, more_than: 2, output: 'n' } },
  },
}, 'seal.json');
const WEEKLY = registry.pipeline('weekly');
const DAY = '2026-10-29'; // a Thursday: weeks are aligned to the epoch, 1970-01-01 was one
const START = Date.parse(`${DAY}T00:00:00Z`), WEEK = 7 * 86_400_000, H = 3_600_000;

function weekRow(n: number, revision: number, watermark: number): WindowResult {
  return { kind: 'window', pipeline: 'weekly', windowStart: START, windowEnd: START + WEEK, key: { k: 'a' }, values: { n }, revision, watermark, definitionVersion: definitionVersion(WEEKLY) };
}

describe('the end of a day\'s last window', () => {
  it('is the day\'s end for rules and windows that divide the day; later for windows that cross or outlast it', () => {
    const end = START + 86_400_000;
    expect(dayReach(DAY)).toBe(end);
    expect(dayReach(DAY, windowOf(registry, 'burst'))).toBe(end);
    expect(dayReach(DAY, windowOf(registry, 'minutes'))).toBe(end);
    expect(dayReach(DAY, windowOf(registry, 'weekly'))).toBe(START + WEEK);
    expect(dayReach(DAY, windowOf(registry, 'weekly_daily'))).toBe(START + WEEK);
    // 7 minutes do not divide a day: the day's last window starts before midnight and ends after it.
    const lastStart = Math.floor((end - 1) / 420_000) * 420_000;
    expect(lastStart).toBeLessThan(end);
    expect(dayReach(DAY, windowOf(registry, 'seven_minutes'))).toBe(lastStart + 420_000);
    expect(dayReach(DAY, windowOf(registry, 'not_defined'))).toBe(end);
  });
});

const { schemas, backends } = storeBackends();

describe.each(backends)('sealing a day of windows longer than the seal delay: $name', ({ url }) => {
  const stores: SqlResultStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  it('a week\'s first value and its updates within L show; the day seals 72 h after the week ends', async () => {
    const store = await openStore(url(), { registry, schema: schemas.next() });
    stores.push(store);
    const fired = START + WEEK + 29_999; // W when the week fires (B = 30 s)
    // A week starting on DAY fires 7 days on: its day's end plus 72 h is long past.
    await store.setWatermark('weekly', fired - 60_000);
    expect(await store.writeRealtime([weekRow(1, 0, fired)])).toEqual({ applied: 1, diverted: 0 });
    await store.setWatermark('weekly', fired);
    expect(await store.status('weekly', DAY)).toMatchObject({ status: 'provisional', lateDelta: 0, dirty: 0 });
    // An event within L updates the fired window: revision 1 is the live value, not late data.
    expect(await store.writeRealtime([weekRow(2, 1, fired + 1)])).toEqual({ applied: 1, diverted: 0 });
    expect((await store.current('weekly', DAY)).map((r) => [r.revision, r.values.n])).toEqual([[1, 2]]);
    expect(await store.status('weekly', DAY)).toMatchObject({ status: 'provisional', lateDelta: 0, dirty: 0 });
    // 72 h after the week's end the day is sealed: a row for it is kept aside as before.
    await store.setWatermark('weekly', START + WEEK + 72 * H);
    expect((await store.status('weekly', DAY)).status).toBe('sealed');
    expect(await store.writeRealtime([weekRow(3, 2, START + WEEK + 72 * H)])).toEqual({ applied: 0, diverted: 1 });
    expect(await store.status('weekly', DAY)).toMatchObject({ lateDelta: 1, dirty: 1 });
  });
});
