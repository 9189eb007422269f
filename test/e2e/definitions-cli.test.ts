import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concord, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { seedDefinitionsPath } from '../../examples/seed-path.ts';

const ws = tempWorkspace('concord-defs-');
afterAll(() => ws.cleanup());
const read = (path: string) => jsonLines(readFileSync(path, 'utf8'));
const at = (hhmm: string) => `2026-11-23T${hhmm}:00Z`;
const iso = (hhmm: string) => `2026-11-23T${hhmm}:00.000Z`;

const definitions = {
  schemas: {
    rides: {
      time: 'pickup_at', id: 'ride_id', key: 'driver_id',
      fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', city: 'string', fare: 'decimal(2)', passengers: 'int', distance_km: 'double?', shared: 'bool?', promo: 'string?' },
    },
  },
  pipelines: {
    fares: {
      input: 'rides', where: [['passengers', '>=', 1], ['city', 'in', ['Lisbon', 'Porto']]], key: ['city'], window: { tumbling: '15m' },
      aggregates: { rides: 'count', revenue: ['sum', 'fare'], top_fare: ['max', 'fare'], avg_km: ['avg', 'distance_km'], drivers: ['count_distinct', 'driver_id'] },
      max_out_of_orderness: '0s', allowed_lateness: '0s',
    },
    by_promo: { input: 'rides', key: 'promo', window: { tumbling: '1h' }, aggregates: { n: 'count' }, max_out_of_orderness: 0, allowed_lateness: 0 },
    takings: { input: 'rides', key: 'driver_id', rule: { within: '1h', sum: 'fare', more_than: 20, output: 'total' } },
  },
};
const jsonFile = join(ws.dir, 'rides.json');
writeFileSync(jsonFile, JSON.stringify(definitions, null, 2));
// The same definitions as a TypeScript module, loaded by the running Node (no build step).
const tsFile = join(ws.dir, 'rides.definitions.ts');
writeFileSync(tsFile, `interface Definitions { schemas: Record<string, unknown>; pipelines: Record<string, unknown> }\nconst defs: Definitions = ${JSON.stringify(definitions)};\nexport default defs;\n`);

const events = ws.file('rides.jsonl', [
  { ride_id: 'r1', pickup_at: at('08:01'), driver_id: 'd1', city: 'Lisbon', fare: '10.10', passengers: 1, distance_km: 2.5, promo: 'null' },
  { ride_id: 'r2', pickup_at: at('08:02'), driver_id: 'd2', city: 'Lisbon', fare: 2.2, passengers: 2 },
  { ride_id: 'r3', pickup_at: at('08:03'), driver_id: 'd1', city: 'Porto', fare: '5', passengers: 1, distance_km: 4, promo: null },
  { ride_id: 'r4', pickup_at: at('08:04'), driver_id: 'd1', city: 'Faro', fare: 7.7, passengers: 1 }, // not Lisbon/Porto
  { ride_id: 'r5', pickup_at: at('08:05'), driver_id: 'd3', city: 'Lisbon', fare: '1.00', passengers: 0 }, // no passenger
  { ride_id: 'bad', pickup_at: at('08:06'), driver_id: 'd3', city: 'Lisbon', fare: '1.234', passengers: 1 }, // 3 decimals
  { ride_id: 'r6', pickup_at: at('08:20'), driver_id: 'd1', city: 'Lisbon', fare: '3.33', passengers: 1, distance_km: 1.5 },
]);

const expectedFares = [
  { pipeline: 'fares', window_start: iso('08:00'), window_end: iso('08:15'), city: 'Lisbon', rides: 2, revenue: 12.3, top_fare: 10.1, avg_km: 2.5, drivers: 2 },
  { pipeline: 'fares', window_start: iso('08:00'), window_end: iso('08:15'), city: 'Porto', rides: 1, revenue: 5, top_fare: 5, avg_km: 4, drivers: 1 },
  { pipeline: 'fares', window_start: iso('08:15'), window_end: iso('08:30'), city: 'Lisbon', rides: 1, revenue: 3.33, top_fare: 3.33, avg_km: 1.5, drivers: 1 },
];
// d1: 10.10 + 5 + 7.70 = 22.80 > 20 at r4 (no filter on this rule); r6 keeps it above, no second alert.
const expectedTakings = [{ pipeline: 'takings', driver_id: 'd1', ride_id: 'r4', ts: `${at('08:04').slice(0, -1)}.000Z`, total: 22.8 }];
// The string "null" is a key of its own, apart from absent / null promo.
const expectedPromo = [
  { pipeline: 'by_promo', window_start: iso('08:00'), promo: 'null', n: 1 },
  { pipeline: 'by_promo', window_start: iso('08:00'), promo: null, n: 5 },
];
const pick = (rows: Record<string, unknown>[], fields: string[]) => rows.map((r) => Object.fromEntries(fields.map((f) => [f, r[f]])));
const fields = (expected: Record<string, unknown>[]) => Object.keys(expected[0]!);
const sortBy = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

describe('a user definitions file through the CLI', () => {
  const archive = join(ws.dir, 'archive');
  let archived: ReturnType<typeof concord>;
  beforeAll(() => {
    archived = concord(['archive', '--schema', 'rides', '--input', events, '--dir', archive], { CONCORD_DEFINITIONS: jsonFile });
  });

  for (const [kind, file] of [['JSON', jsonFile], ['TypeScript module', tsFile]] as const) {
    it(`stream (${kind}): filters, decimals in major units, avg over non-null values, null key apart from "null", sum rule`, () => {
      for (const [p, expected] of [['fares', expectedFares], ['takings', expectedTakings], ['by_promo', expectedPromo]] as const) {
        const out = join(ws.dir, `${kind}-${p}.jsonl`), dlq = join(ws.dir, `${kind}-${p}.dlq.jsonl`);
        const r = concord(['stream', '--definitions', file, '--pipeline', p, '--input', events, '--output', out, '--final', '--dead-letter', dlq]);
        expect(r.code, r.stderr).toBe(0);
        expect(sortBy(pick(read(out), fields(expected)))).toEqual(sortBy(expected));
        expect(read(dlq)).toMatchObject([{ offset: 5, field: 'fare', reason: 'fare: "1.234" is not a number with at most 2 decimal places' }]);
      }
    });
  }

  it('archive, replay and reconcile agree with the stream; the environment variable names the file too', () => {
    expect(archived.code, archived.stderr).toBe(0);
    expect(archived.stderr).toContain('archived 6 rides events');
    for (const [p, expected] of [['fares', expectedFares], ['takings', expectedTakings], ['by_promo', expectedPromo]] as const) {
      const out = join(ws.dir, `replay-${p}.jsonl`);
      const r = concord(['replay', '--definitions', jsonFile, '--pipeline', p, '--input', archive, '--output', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(sortBy(pick(read(out), fields(expected)))).toEqual(sortBy(expected));
      const realtime = join(ws.dir, `changelog-${p}.jsonl`), report = join(ws.dir, `report-${p}.json`);
      expect(concord(['stream', '--definitions', jsonFile, '--pipeline', p, '--input', events, '--output', realtime]).code).toBe(0);
      const rec = concord(['reconcile', '--definitions', jsonFile, '--pipeline', p, '--realtime', realtime, '--archive', archive, '--output', report, '--fail-on-unexplained']);
      expect(rec.code, rec.stderr).toBe(0);
      expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ different: 0, unexplained: 0 });
    }
  });

  it('store: stream into it, reconcile the day, and the report shows the user pipelines', () => {
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    for (const p of ['fares', 'takings', 'by_promo']) {
      const r = concord(['stream', '--definitions', jsonFile, '--pipeline', p, '--input', events, '--output', join(ws.dir, `s-${p}.jsonl`), '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    }
    const rec = concord(['reconcile', '--definitions', jsonFile, '--date', '2026-11-23', '--archive', archive, '--store', store, '--report-dir', join(ws.dir, 'reports')]);
    expect(rec.code, rec.stderr + rec.stdout).toBe(0);
    const rep = concord(['report', '--definitions', jsonFile, '--date', '2026-11-23', '--store', store, '--format', 'json']);
    expect(rep.code, rep.stderr).toBe(0);
    const day = JSON.parse(rep.stdout) as { pipelines: { pipeline: string; rows: { key: Record<string, unknown>; values: Record<string, unknown> }[] }[] };
    const rows = (p: string) => day.pipelines.find((x) => x.pipeline === p)!.rows.map((r) => ({ ...r.key, ...r.values }));
    expect(sortBy(pick(rows('fares'), ['city', 'rides', 'revenue', 'top_fare', 'avg_km', 'drivers']))).toEqual(sortBy(expectedFares.map((e) => pick([e], ['city', 'rides', 'revenue', 'top_fare', 'avg_km', 'drivers'])[0]!)));
    expect(pick(rows('takings'), ['driver_id', 'ride_id', 'total'])).toEqual([{ driver_id: 'd1', ride_id: 'r4', total: 22.8 }]);
    expect(sortBy(pick(rows('by_promo'), ['promo', 'n']))).toEqual(sortBy([{ promo: 'null', n: 1 }, { promo: null, n: 5 }]));
    // Markdown: a summary by default, every cell only when asked.
    const summary = concord(['report', '--definitions', jsonFile, '--date', '2026-11-23', '--store', store]);
    expect(summary.stdout).toContain('3 cells live (every cell: --cells, or --format csv|json).');
    expect(summary.stdout).not.toContain('| window start | key |');
    const cells = concord(['report', '--definitions', jsonFile, '--date', '2026-11-23', '--store', store, '--cells']);
    expect(cells.stdout).toContain('| window start | key | values | revision | provenance |');
    // A null promo and the string "null" print apart, as in "Top differences" (null is ∅, the string quoted).
    const promo = concord(['report', '--definitions', jsonFile, '--date', '2026-11-23', '--store', store, '--pipeline', 'by_promo', '--cells']);
    expect(promo.stdout.split('\n').filter((l) => l.startsWith(`| ${iso('08:00')} |`)).map((l) => l.split(' | ')[1]).sort()).toEqual(['"null"', '∅']);
  });

  it('a changed definition: backfill --from --to recomputes the stored day under the new version, atomically', () => {
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const changed = join(ws.dir, 'rides-v2.json');
    const fares = { ...definitions.pipelines.fares, where: [['passengers', '>=', 1]] }; // every city now
    writeFileSync(changed, JSON.stringify({ ...definitions, pipelines: { ...definitions.pipelines, fares } }));
    const version = /fares\s+windowed\s+input rides, version (\w+)/.exec(concord(['validate', '--definitions', changed]).stdout)![1]!;
    const b = concord(['backfill', '--definitions', changed, '--pipeline', 'fares', '--from', '2026-11-22', '--to', '2026-11-23', '--archive', archive, '--store', store]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain('fares 2026-11-22: no archived events and no stored rows, skipped');
    expect(b.stdout).toMatch(new RegExp(`fares 2026-11-23: 4 cells under definition ${version}, version \\d+ live \\(was \\d+\\)`));
    // Again: the same definition's version is live already (it said "version 2 live (was 2)").
    const again = concord(['backfill', '--definitions', changed, '--pipeline', 'fares', '--from', '2026-11-23', '--to', '2026-11-23', '--archive', archive, '--store', store]);
    expect(again.stdout).toMatch(new RegExp(`fares 2026-11-23: 4 cells under definition ${version}, version \\d+ already live \\(recomputed under this definition before\\), nothing changed`));
    const rep = concord(['report', '--definitions', changed, '--date', '2026-11-23', '--store', store, '--pipeline', 'fares', '--format', 'json']);
    const rows = (JSON.parse(rep.stdout) as { pipelines: { rows: { key: Record<string, unknown>; values: Record<string, unknown> }[] }[] }).pipelines[0]!.rows;
    expect(sortBy(rows.map((r) => ({ ...r.key, rides: r.values.rides, revenue: r.values.revenue })))).toEqual(sortBy([
      { city: 'Lisbon', rides: 2, revenue: 12.3 }, { city: 'Porto', rides: 1, revenue: 5 }, { city: 'Faro', rides: 1, revenue: 7.7 }, { city: 'Lisbon', rides: 1, revenue: 3.33 },
    ]));
  });

  it('every command refuses a bad definitions file the same way: exit 2, every problem, no stack trace', () => {
    const bad = join(ws.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({
      schemas: { rides: { ...definitions.schemas.rides, fields: { ...definitions.schemas.rides.fields, tip: 'money' } } },
      pipelines: { fares_per_city_15m: { input: 'rides', key: ['city'], window: { tumbling: '15m' }, aggregates: { revenue: ['sum', 'city'] } }, x: { input: 'cars' } },
    }));
    const expected = [
      'schemas.rides.fields.tip: unknown type "money"',
      'pipelines.fares_per_city_15m.aggregates.revenue: sum needs a numeric field; "city" is a string',
      'pipelines.x.input: "cars" is not a schema of this file',
    ];
    const runs = [
      ['validate'], ['stream', '--pipeline', 'fares', '--input', events, '--output', join(ws.dir, 'x.jsonl')],
      ['replay', '--pipeline', 'fares', '--input', archive, '--output', join(ws.dir, 'x.jsonl')], ['report', '--date', '2026-11-23'], ['explain', '--pipeline', 'fares'],
    ];
    for (const args of runs) {
      const r = concord([...args, '--definitions', bad]);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      for (const line of expected) expect(r.stderr).toContain(line);
      expect(r.stderr).toContain('3 problems');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a file that does not load says where and what to do: the syntax error\'s line (shown, with a caret), the missing package, an empty file', () => {
    const cases: [string, string, RegExp][] = [
      ['typo.definitions.js', 'export default {\n  schemas: {},\n  pipelines: { a: 1 b: 2 },\n};\n', /syntax error at .*typo\.definitions\.js:3\b/],
      ['typo.definitions.ts', 'const defs: object = {\n  schemas: {}\n  pipelines: {},\n};\nexport default defs;\n', /syntax error at .*typo\.definitions\.ts:3\b.*\n {4} {2}pipelines: \{\},\n {4} {2}\^\n/],
      // JSON: the place and the line, a caret under the column.
      ['trailing.json', '{"schemas": {\n  "a": 1,\n}\n', /is not valid JSON: .*\(line 3 column 1\).*\n {4}\}\n {4}\^\n/],
      ['typed.definitions.ts', "import { defineDefinitions } from 'concord';\nexport default defineDefinitions({ schemas: {}, pipelines: {} });\n", /'concord'.*install the package where .*, or drop the import/],
      ['empty.json', '\n', /definitions file .*empty\.json is empty/],
    ];
    for (const [name, text, message] of cases) {
      const file = join(ws.dir, name);
      writeFileSync(file, text);
      const r = concord(['validate', '--definitions', file]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('validate lists the pipelines of a good file; explain prints the stream plan and the replay SQL', () => {
    const v = concord(['validate', '--definitions', jsonFile]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/OK — 1 schema, 3 pipelines/);
    const e = concord(['explain', '--definitions', jsonFile, '--pipeline', 'fares', '--archive', archive]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toContain('filter     passengers >= 1 AND city in ("Lisbon", "Porto")');
    expect(e.stdout).toContain('merge stage');
    expect(e.stdout).toContain(`WHERE ("passengers" >= 1) AND ("city" IN ('Lisbon', 'Porto'))`);
    expect(e.stdout).toMatch(/\(sum\("fare"\)\)::BIGINT::DOUBLE ELSE .* END\) \/ 100 AS __a1/);
    const t = concord(['explain', '--definitions', jsonFile, '--pipeline', 'takings']);
    expect(t.stdout).toContain('no merge stage');
    expect(t.stdout).toContain('m0 > 2000 AS sat');
  });

  // validate and explain printed the file's own version and L while stream, under the same
  // CONCORD_ALLOWED_LATENESS, ran (and stamped its rows) as another version with another L.
  it('validate and explain show the version and the B and L the commands run under, env and flags included', () => {
    const env = { CONCORD_ALLOWED_LATENESS: '1m' };
    const out = join(ws.dir, 'env-lateness.jsonl');
    expect(concord(['stream', '--definitions', jsonFile, '--pipeline', 'fares', '--input', events, '--output', out], env).code).toBe(0);
    const stamped = String(read(out)[0]!.definition_version);
    const own = /fares\s+windowed\s+input rides, version (\w+)/.exec(concord(['validate', '--definitions', jsonFile]).stdout)![1]!;
    expect(stamped).not.toBe(own);
    const v = concord(['validate', '--definitions', jsonFile], env);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`fares\\s+windowed\\s+input rides, version ${stamped} \\(B 0ms, L 1m from .*; the file's own: ${own}\\)`));
    const e = concord(['explain', '--definitions', jsonFile, '--pipeline', 'fares', '--allowed-lateness', '1m']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout.split('\n')[0]).toContain(`definition version ${stamped} (`);
    expect(e.stdout).toContain('(L = 1m)');
  });

  it('init writes a starter module that loads to the seed pipelines', () => {
    const file = join(ws.dir, 'starter.ts');
    expect(concord(['init', '--output', file]).code).toBe(0);
    const v = concord(['validate', '--definitions', file]);
    const seed = concord(['validate']);
    expect(v.code, v.stderr).toBe(0);
    // Same pipelines, same definition versions as the seed example file.
    expect(v.stdout.split('\n').slice(1)).toEqual(seed.stdout.split('\n').slice(1));
    expect(concord(['init', '--output', file]).code).toBe(2);
  });

  it('init --output - writes the starter to stdout, nothing else (it said "/dev/stdout exists"; - was a file named -)', () => {
    const r = concord(['init', '--output', '-', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(seedDefinitionsPath, 'utf8')));
  });

  it('init writes the format its --output will be loaded as, into a directory it makes; a contradiction is refused', () => {
    // `--output d.json` wrote the TypeScript starter into d.json (not JSON), `--format json --output d.ts`
    // JSON into a module, and a missing directory was a stack trace (ENOENT).
    const json = join(ws.dir, 'new-dir', 'nested', 'starter.json');
    const i = concord(['init', '--output', json]);
    expect(i.code, i.stderr).toBe(0);
    const v = concord(['validate', '--definitions', json]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('3 pipelines');
    for (const [args, message] of [
      [['--format', 'json', '--output', join(ws.dir, 'x.ts')], /x\.ts is loaded as a TypeScript module \(by its extension\), not json/],
      [['--format', 'ts', '--output', join(ws.dir, 'x.json')], /x\.json is loaded as JSON \(by its extension\), not ts/],
      [['--output', join(ws.dir, 'x.mjs')], /a \.mjs file is loaded as JavaScript.*name a \.ts or a \.json file/],
    ] as const) {
      const r = concord(['init', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('    at ');
    }
  });
});
