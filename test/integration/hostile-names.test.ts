import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayStatements } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { resultToJson } from '../../schemas/results.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace('concord-hostile-');
afterAll(() => ws.cleanup());

// Names a user may write, which must reach SQL only quoted: quotes, semicolons, spaces, non-ASCII.
const schemaName = `ev"il'; DROP TABLE x; --`;
const time = 'quand "t"';
const id = "id'; SELECT 1; --";
const city = 'ville €; "x"';
const price = "prix'€";
const pipeline = `sum "€"; DROP SCHEMA concord; --`;
const rule = `règle ${"'"}; --`;

const registry = parseDefinitions({
  schemas: {
    [schemaName]: { time, id, key: city, fields: { [time]: 'timestamp', [id]: 'string', [city]: 'string?', [price]: 'decimal(2)', 'ñ ü': 'string?' } },
  },
  pipelines: {
    [pipeline]: {
      input: schemaName, key: [city], where: [[city, 'not in', ["O'Hare; --"]], [price, '>', 0]], window: { tumbling: '1m' },
      aggregates: { [`total "€"`]: ['sum', price], [`n'; --`]: 'count', [`uniq ñ`]: ['approx_distinct', 'ñ ü', 10] },
      max_out_of_orderness: 0, allowed_lateness: 0,
    },
    [rule]: { input: schemaName, key: city, rule: { within: '5m', distinct: 'ñ ü', more_than: 1, output: 'vus "x"' }, max_out_of_orderness: 0, allowed_lateness: 0 },
  },
}, 'hostile.json');

const event = (i: number, ts: number, c: string | null, p: string, who: string) =>
  JSON.stringify({ [time]: ts, [id]: `e${i}'"`, ...(c === null ? {} : { [city]: c }), [price]: p, 'ñ ü': who });
const lines = [
  event(1, 1_000, `Lisboa "1"; --`, '1.10', 'a'),
  event(2, 2_000, `Lisboa "1"; --`, '2.20', 'b'),
  event(3, 3_000, "O'Hare; --", '9.99', 'c'), // filtered out by `not in`
  event(4, 4_000, null, '0.50', 'a'), // null city: `not in` is false for null (SQL), so not counted
  event(5, 5_000, 'null', '0.25', 'z'), // the string "null": another group
  event(6, 6_000, `Lisboa "1"; --`, '0.00', 'c'), // filtered out by price > 0
  event(7, 61_000, `Lisboa "1"; --`, '3.00', 'd'),
];

describe('hostile schema, field and pipeline names', () => {
  it('windowed: stream, archive, replay and reconcile agree, with the right numbers', async () => {
    const def = registry.pipeline(pipeline);
    const both = await runBoth(def, lines, join(ws.dir, 'archive'));
    const rows = (rs: typeof both.final) => rs.map(resultToJson).map((r) => [r.window_start, r[city], r[`total "€"`], r[`n'; --`], r[`uniq ñ`]]);
    const expected = [
      ['1970-01-01T00:00:00.000Z', `Lisboa "1"; --`, 3.3, 2, 2],
      ['1970-01-01T00:00:00.000Z', 'null', 0.25, 1, 1],
      ['1970-01-01T00:01:00.000Z', `Lisboa "1"; --`, 3, 1, 1],
    ];
    const sort = (x: unknown[][]) => [...x].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    expect(sort(rows(both.final))).toEqual(sort(expected));
    expect(sort(rows(both.replayed))).toEqual(sort(expected));
    expect(both.report).toMatchObject({ different: 0, unexplained: 0 });
    expect(both.deadLetters).toEqual([]);
    // The archive folder of the schema is a safe name, inside the archive.
    expect(existsSync(join(ws.dir, 'archive', schemaName))).toBe(false);
    const sql = replayStatements(def, join(ws.dir, 'archive')).join('\n');
    expect(sql).toContain(`"ville €; ""x"""`);
    expect(sql).toContain(`'O''Hare; --'`);
  });

  it('rule: the same alerts in both runtimes', async () => {
    const def = registry.pipeline(rule);
    const both = await runBoth(def, lines, join(ws.dir, 'archive-rule'));
    const alerts = both.final.map(resultToJson).map((r) => [r[city], r[id], r['vus "x"']]);
    expect(alerts).toEqual([[`Lisboa "1"; --`, `e2'"`, ['a', 'b']]]);
    expect(both.replayed.map(resultToJson).map((r) => [r[city], r[id], r['vus "x"']])).toEqual(alerts);
    expect(both.report).toMatchObject({ different: 0, unexplained: 0 });
  });
});
