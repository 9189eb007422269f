import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { DefinitionsFileError, parseDefinitions } from '../../pipeline/definitions-file.ts';
import { describePipeline } from '../../serve/routes/pipelines.ts';
import { dayReach } from '../../store/day-status.ts';
import {
  assignWindows, checkWindow, hopping, lastWindowEndBefore, tumbling, windowAlignmentText, windowStartAtOrBefore, windowStartAtOrBeforeSql, type WindowSpec,
} from '../../pipeline/windows.ts';

const H = 3_600_000, M = 60_000, DAY = 24 * H;
const at = (iso: string) => Date.parse(iso);

/** Every window start holding `ts`, by enumerating the starts offset + k * step near it (no modular arithmetic). */
function windowsByEnumeration(size: number, step: number, offset: number, ts: number): number[] {
  const out: number[] = [];
  const k0 = Math.round((ts - offset) / step);
  for (let k = k0 - Math.ceil(size / step) - 2; k <= k0 + 2; k++) {
    const start = offset + k * step;
    if (start <= ts && ts < start + size) out.push(start);
  }
  return out;
}

const rides = { time: 'at', id: 'id', fields: { id: 'string', at: 'timestamp' } };
const file = (window: Record<string, unknown>) => ({ schemas: { rides }, pipelines: { n: { input: 'rides', window, aggregates: { n: 'count' } } } });
function problems(window: Record<string, unknown>): string[] {
  try {
    parseDefinitions(file(window), 'defs.json');
  } catch (error) {
    if (error instanceof DefinitionsFileError) return [...error.problems];
    throw error;
  }
  return [];
}
const windowOf = (window: Record<string, unknown>): WindowSpec => {
  const def = parseDefinitions(file(window), 'defs.json').pipeline('n');
  if (def.kind !== 'windowed') throw new Error('windowed expected');
  return def.window;
};

describe('window offsets', () => {
  it('a 1-day window at offset 5h holds 05:00Z to 05:00Z the next day, across the UTC midnight', () => {
    const w = tumbling(DAY, 5 * H);
    expect(assignWindows(w, at('2026-11-23T10:00:00Z'))).toEqual([at('2026-11-23T05:00:00Z')]);
    expect(assignWindows(w, at('2026-11-24T04:59:59.999Z'))).toEqual([at('2026-11-23T05:00:00Z')]);
    expect(assignWindows(w, at('2026-11-24T05:00:00Z'))).toEqual([at('2026-11-24T05:00:00Z')]);
    // -5h is Flink's offset for a zone at UTC+05:00: its local midnight is 19:00Z.
    expect(assignWindows(tumbling(DAY, -5 * H), at('2026-11-24T03:00:00Z'))).toEqual([at('2026-11-23T19:00:00Z')]);
  });

  it('hourly windows at offset 30m (India, +05:30) start at :30; hopping windows at offset 5m at :05, :20, ...', () => {
    expect(assignWindows(tumbling(H, 30 * M), at('2026-11-23T10:10:00Z'))).toEqual([at('2026-11-23T09:30:00Z')]);
    expect(assignWindows(hopping(H, 15 * M, 5 * M), at('2026-11-23T10:10:00Z')))
      .toEqual(['09:20', '09:35', '09:50', '10:05'].map((t) => at(`2026-11-23T${t}:00Z`)));
  });

  it('assigns the windows an enumeration of offset + k * step finds, for any offset and for times before 1970', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.integer({ min: -499, max: 499 }), fc.integer({ min: -1e7, max: 1e7 }),
      (slide, times, isTumbling, rawOffset, ts) => {
        const step = isTumbling ? slide * times : slide, size = slide * times;
        const offset = rawOffset % step;
        const w = isTumbling ? tumbling(size, offset) : hopping(size, slide, offset);
        checkWindow(w);
        const expected = windowsByEnumeration(size, step, offset, ts);
        expect(assignWindows(w, ts)).toEqual(expected);
        expect(windowStartAtOrBefore(w, ts)).toBe(expected.at(-1));
        expect(lastWindowEndBefore(w, ts + 1)).toBe(expected.at(-1)! + size);
      },
    ), { numRuns: 2_000 });
  });

  it('replay SQL floors window starts like the stream, for times before 1970 and before an offset window\'s first start', async () => {
    const db = await DuckDb.open();
    try {
      const specs = [tumbling(DAY, 5 * H), tumbling(DAY, -5 * H), tumbling(H), hopping(H, 15 * M, -10 * M), hopping(10, 3, 1)];
      const times = [-DAY - 1, -5 * H, -1, 0, 1, 4 * H, 5 * H - 1, 5 * H, 19 * H, at('2026-11-24T03:00:00Z'), 7, 8, 9, 10, 11];
      for (const w of specs) {
        const rows = await db.rows(`SELECT t, ${windowStartAtOrBeforeSql(w, 't')}::DOUBLE AS s FROM (SELECT unnest([${times.join(', ')}]::BIGINT[]) AS t)`);
        for (const r of rows) expect([w, Number(r.t), Number(r.s)]).toEqual([w, Number(r.t), windowStartAtOrBefore(w, Number(r.t))]);
      }
    } finally {
      await db.close();
    }
  });

  it('keeps an offset normalised to (0, step): -5h and 19h on a day are one definition version, 0 is none', () => {
    expect(windowOf({ tumbling: '24h', offset: '-5h' })).toEqual({ kind: 'tumbling', size: DAY, offset: 19 * H });
    expect(windowOf({ tumbling: '24h', offset: '-5h' })).toEqual(windowOf({ tumbling: '24h', offset: '19h' }));
    expect(windowOf({ hopping: '1h', every: '15m', offset: '+5m' })).toEqual({ kind: 'hopping', size: H, slide: 15 * M, offset: 5 * M });
    expect(windowOf({ tumbling: '1h', offset: -1_800_000 })).toEqual({ kind: 'tumbling', size: H, offset: 30 * M });
    const version = (window: Record<string, unknown>) => definitionVersion(parseDefinitions(file(window), 'defs.json').pipeline('n'));
    expect(version({ tumbling: '24h', offset: '-5h' })).toBe(version({ tumbling: '24h', offset: '19h' }));
    expect(version({ tumbling: '24h', offset: '0' })).toBe(version({ tumbling: '24h' }));
    expect(version({ tumbling: '24h', offset: '5h' })).not.toBe(version({ tumbling: '24h' }));
    expect(version({ tumbling: '24h', offset: '5h' })).not.toBe(version({ tumbling: '24h', offset: '6h' }));
    // A day written "1d" (Flink's Time.days(1)) is 24 hours: the same windows, the same version.
    expect(windowOf({ tumbling: '1d', offset: '5h' })).toEqual({ kind: 'tumbling', size: DAY, offset: 5 * H });
    expect(version({ tumbling: '1d', offset: '5h' })).toBe(version({ tumbling: '24h', offset: '5h' }));
    expect(() => checkWindow({ kind: 'tumbling', size: DAY, offset: -5 * H })).toThrow(/offset must be an integer of ms in \(0, 86400000\)/);
  });

  it('names the place of a bad offset, like the other definition problems', () => {
    expect(problems({ tumbling: '24h', offset: '24h' })).toEqual([
      'pipelines.n.window.offset: "24h" is not shorter than the window\'s size "24h"; use an offset between -24h and 24h (exclusive)',
    ]);
    expect(problems({ hopping: '1h', every: '15m', offset: '-20m' })).toEqual([
      'pipelines.n.window.offset: "-20m" is not shorter than the window\'s "every" "15m"; use an offset between -15m and 15m (exclusive)',
    ]);
    expect(problems({ tumbling: '1h', offset: '-' })).toEqual(['pipelines.n.window.offset: expected a duration like "5h", "-30m" or integer milliseconds, got "-"']);
    expect(problems({ tumbling: '1h', offset: true })).toEqual(['pipelines.n.window.offset: expected a duration like "5h", "-30m" or integer milliseconds, got true']);
    expect(problems({ tumbling: '1h', offset: '-5 minutes' })[0]).toMatch(/^pipelines\.n\.window\.offset: "5 minutes" is not a duration/);
    expect(problems({ tumbling: '1h', ofset: '5m' })[0]).toMatch(/^pipelines\.n\.window: unknown key "ofset" \(did you mean "offset"\?\)/);
  });

  it('says how the windows are aligned: the offset both ways and the first start', () => {
    expect(windowAlignmentText(tumbling(H))).toBe('aligned to the epoch');
    expect(windowAlignmentText(tumbling(DAY, 5 * H))).toBe(
      'aligned to the epoch + 5h (the same as -19h): windows start at 1970-01-01T05:00:00.000Z and every 24h from it (a fixed offset in UTC; no daylight saving time)');
  });

  it('the API describes the offset of a pipeline\'s windows (0 for none)', () => {
    const described = (window: Record<string, unknown>) => describePipeline(parseDefinitions(file(window), 'defs.json').pipeline('n')).window;
    expect(described({ tumbling: '24h', offset: '-5h' })).toMatchObject({ offset: '19h', offset_ms: 19 * H });
    expect(described({ hopping: '1h', every: '15m' })).toMatchObject({ offset: '0ms', offset_ms: 0 });
  });

  it('a day\'s results reach the end of its last window: the next day\'s 05:00Z at offset 5h, 19:00Z at -5h', () => {
    expect(new Date(dayReach('2026-11-23', tumbling(DAY, 5 * H))).toISOString()).toBe('2026-11-24T05:00:00.000Z');
    expect(new Date(dayReach('2026-11-23', tumbling(DAY, -5 * H))).toISOString()).toBe('2026-11-24T19:00:00.000Z');
    expect(new Date(dayReach('2026-11-23', tumbling(DAY))).toISOString()).toBe('2026-11-24T00:00:00.000Z');
  });
});
