import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { oracleZoned } from '../fixtures/zone-oracle.ts';

// Times without a zone ("2026-10-25 02:30:00", Flink's SQL format), read in the schema's `time_zone`,
// around the DST transitions of a random zone, disordered over months (B is a year: nothing is late), with a `where` constant without a zone too.
// Stream, archive + replay and reconcile agree, and both equal an oracle that reads each wall-clock time
// by searching the instants Intl formats to it (the earliest one in a repeated hour; in a skipped hour,
// moved forward by the gap: java.time's rule), not through Concord's parser.
const ws = tempWorkspace('concord-zoneless-');
afterAll(() => ws.cleanup());
let runNo = 0;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 8;

/** Zones and the local dates of 2026 holding their transitions, mostly between 01:00 and 03:00. */
const TRANSITIONS: Readonly<Record<string, readonly string[]>> = {
  'UTC': [], 'Asia/Kolkata': [],
  'Europe/Oslo': ['2026-03-29', '2026-10-25'], 'America/New_York': ['2026-03-08', '2026-11-01'], 'Australia/Lord_Howe': ['2026-04-05', '2026-10-04'],
};
const ZONES = Object.keys(TRANSITIONS);
/** The instant of wall-clock `date time.frac` in `zone`, by search. */
function oracleInstant(date: string, time: string, frac: string, zone: string): number {
  return oracleZoned(Date.parse(`${date}T${time}Z`) + Number(frac.padEnd(3, '0').slice(0, 3)), zone);
}

const two = (max: number) => fc.integer({ min: 0, max }).map((v) => String(v).padStart(2, '0'));
const wallTime = (zone: string) => fc.record({
  date: fc.oneof({ arbitrary: fc.constantFrom('2026-06-15', '2026-12-31', ...TRANSITIONS[zone]!), weight: 1 }, { arbitrary: fc.constantFrom(...TRANSITIONS[zone]!, '2026-06-15'), weight: 3 }),
  time: fc.tuple(fc.oneof({ arbitrary: fc.constantFrom('01', '02'), weight: 3 }, two(5), two(23)), two(59), two(59)).map(([h, m, s]) => `${h}:${m}:${s}`),
  frac: fc.oneof(fc.constant(''), fc.integer({ min: 1, max: 9 }).chain((n) => fc.stringMatching(new RegExp(`^\\d{${n}}$`)))),
  sep: fc.constantFrom('T', ' '),
});
type Wall = ReturnType<typeof wallTime> extends fc.Arbitrary<infer W> ? W : never;
const textOf = (w: Wall) => `${w.date}${w.sep}${w.time}${w.frac === '' ? '' : `.${w.frac}`}`;

const caseArb = fc.constantFrom(...ZONES).chain((zone) => fc.record({
  zone: fc.constant(zone),
  events: fc.array(fc.record({ at: wallTime(zone), key: fc.constantFrom('a', 'b') }), { minLength: 1, maxLength: 40 }),
  since: fc.option(wallTime(zone), { nil: undefined }),
}));

describe('property: times without a zone, in the schema\'s time_zone', () => {
  it(`stream == replay == oracle, reconcile finds no difference (${Math.ceil(RUNS)} runs)`, async () => {
    await fc.assert(fc.asyncProperty(caseArb, async ({ zone, events, since }) => {
      const where = since === undefined ? [] : [['ts', '>=', textOf(since)]];
      const def = parseDefinitions({
        schemas: { s: { time: 'ts', id: 'id', time_zone: zone, max_future_skew: 'off', fields: { id: 'string', ts: 'timestamp', k: 'string' } } },
        pipelines: { p: {
          input: 's', key: 'k', window: { tumbling: '15m' }, where, max_out_of_orderness: '9000h', allowed_lateness: 0,
          aggregates: { n: 'count', first: ['min', 'ts'], last: ['max', 'ts'] },
        } },
      }, 'zoneless.json').pipeline('p');
      const lines = events.map((e, i) => JSON.stringify({ id: `e${i}`, ts: textOf(e.at), k: e.key }));
      const both = await runBoth(def, lines, join(ws.dir, `run-${runNo++}`));

      const from = since === undefined ? -Infinity : oracleInstant(since.date, since.time, since.frac, zone);
      const cells = new Map<string, { n: number; first: number; last: number }>();
      for (const e of events) {
        const t = oracleInstant(e.at.date, e.at.time, e.at.frac, zone);
        if (t < from) continue;
        const id = `${Math.floor(t / (15 * 60_000)) * 15 * 60_000} ${e.key}`;
        const c = cells.get(id);
        cells.set(id, c ? { n: c.n + 1, first: Math.min(c.first, t), last: Math.max(c.last, t) } : { n: 1, first: t, last: t });
      }
      const rows = (rs: readonly unknown[]) => (rs as WindowResult[]).map((r) => [`${r.windowStart} ${r.key.k}`, r.values]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      const expected = [...cells].map(([id, v]) => [id, v]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      expect(both.deadLetters).toEqual([]);
      expect(both.lates).toEqual([]);
      expect(rows(both.final)).toEqual(expected);
      expect(rows(both.replayed)).toEqual(expected);
      expect([both.report.different, both.report.unexplained]).toEqual([0, 0]);
    }), { numRuns: Math.ceil(RUNS), interruptAfterTimeLimit: 60_000 });
  }, 120_000);
});
