import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { presentCondition } from '../../pipeline/filter.ts';
import { checkWindow, hopping } from '../../pipeline/windows.ts';
import { describePipeline } from '../../serve/routes/pipelines.ts';
import { validateEvent } from '../../schemas/schema.ts';

const rides = {
  time: 'pickup_at', id: 'ride_id', key: 'driver_id',
  fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', city: 'string', fare: 'decimal(2)', passengers: 'int', distance_km: 'double?', shared: 'bool?', promo: 'string?' },
};

const RENAMED_SCHEMA = ' (a schema that ran under the old name keeps its topic and archive folder under it: see "Upgrading" in docs/operations.md)';
const RENAMED_PIPELINE = ' (a pipeline that ran under the old name is another pipeline once renamed: its stored days, checkpoints and jobs stay under the old name; see "Upgrading" in docs/operations.md)';

const problems = (content: unknown): readonly string[] => definitionProblems(content, 'defs.json');

describe('definitions file', () => {
  it('builds the issue example: filters normalised (decimals to minor units), rules with thresholds in field units', () => {
    const r = parseDefinitions({
      schemas: { rides },
      pipelines: {
        fares: { input: 'rides', where: [['passengers', '>=', 1], ['city', 'in', ['Lisbon', 'Porto']], ['fare', '>', '12.5'], ['promo', 'is null']], key: ['city'], window: { tumbling: '15m' }, aggregates: { rides: 'count', revenue: ['sum', 'fare'], avg_km: ['avg', 'distance_km'], riders: ['approx_distinct', 'ride_id', 12] }, max_out_of_orderness: '30s', allowed_lateness: 300000 },
        takings: { input: 'rides', key: 'driver_id', rule: { within: '1h', sum: 'fare', more_than: 400.5, output: 'total' } },
        burst: { input: 'rides', key: 'driver_id', rule: { within: '5m', count: true, more_than: 6, output: 'n' } },
      },
    }, 'x');
    const fares = r.pipeline('fares');
    expect(fares).toMatchObject({
      kind: 'windowed', key: ['city'], window: { kind: 'tumbling', size: 900_000 }, watermark: { maxOutOfOrderness: 30_000 }, allowedLateness: 300_000,
      where: [{ field: 'passengers', op: '>=', value: 1 }, { field: 'city', op: 'in', value: ['Lisbon', 'Porto'] }, { field: 'fare', op: '>', value: 1250 }, { field: 'promo', op: 'is null' }],
    });
    // What users read (`explain`, /api/pipelines) is the file's form again, not minor units or epoch ms.
    expect(fares.where.map((c) => presentCondition(fares.schema, c))).toEqual([
      { field: 'passengers', op: '>=', value: 1 }, { field: 'city', op: 'in', value: ['Lisbon', 'Porto'] }, { field: 'fare', op: '>', value: 12.5 }, { field: 'promo', op: 'is null' }]);
    const since = parseDefinitions({ schemas: { rides }, pipelines: { p: { input: 'rides', where: [['pickup_at', '>=', '2026-11-23T08:00:00Z']], key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } } }, 'x').pipeline('p');
    expect(since.where.map((c) => presentCondition(since.schema, c))).toEqual([{ field: 'pickup_at', op: '>=', value: '2026-11-23T08:00:00.000Z' }]);
    expect(describePipeline(since).where).toEqual([{ field: 'pickup_at', op: '>=', value: '2026-11-23T08:00:00.000Z' }]);
    expect(r.pipeline('takings')).toMatchObject({ kind: 'rule', key: 'driver_id', rule: { measure: 'sum', field: 'fare', threshold: 40050, span: 3_600_000, output: 'total' } });
    expect(r.pipeline('burst')).toMatchObject({ rule: { measure: 'count', threshold: 6 } });
    expect(r.sketchedFields('rides')).toEqual(['ride_id']);
    expect(r.schema('rides')).toMatchObject({ timeField: 'pickup_at', idField: 'ride_id', keyField: 'driver_id' });
  });

  it('validates events by the declared types: decimals exact, ints safe, optional fields absent or null', () => {
    const schema = parseDefinitions({ schemas: { rides }, pipelines: {} }, 'x').schema('rides');
    const ok = { ride_id: 'r1', pickup_at: '2026-11-23T08:00:00Z', driver_id: 'd', city: 'Lisbon', fare: '12.3', passengers: 2, distance_km: null, shared: true };
    expect(validateEvent(schema, ok)).toEqual({ ride_id: 'r1', pickup_at: Date.parse('2026-11-23T08:00:00Z'), driver_id: 'd', city: 'Lisbon', fare: 1230, passengers: 2, shared: true });
    expect(validateEvent(schema, { ...ok, fare: 0.1 })).toMatchObject({ fare: 10 });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ fare: '1.234' }, /fare: "1.234" is not a number with at most 2 decimal places/],
      [{ fare: 5.123 }, /fare: 5\.123 is not a number with at most 2 decimal places/],
      [{ passengers: 1.5 }, /passengers: 1.5 is not an integer/],
      [{ passengers: 2 ** 53 }, /passengers: .* not an integer within/],
      [{ passengers: '3' }, /passengers: expected an integer, got string "3"/],
      [{ distance_km: 'far' }, /distance_km: expected a finite number/],
      [{ shared: 'yes' }, /shared: expected true or false/],
      [{ city: null }, /city: is required/],
    ];
    for (const [patch, reason] of bad) expect(() => validateEvent(schema, { ...ok, ...patch })).toThrow(reason);
  });

  it('lists every mistake at once, each naming its place and quoting the offending name or value', () => {
    const found = problems({
      schemas: {
        rides: { ...rides, time: 'city', fields: { ...rides.fields, tip: 'money', legs: 'decimal(12)' } },
        trips: { time: 'at', id: 'trip_id', fields: { trip_id: 'string' } },
      },
      pipelines: {
        fares_per_city_15m: { input: 'rides', key: ['city', 'nope'], window: { tumbling: '15 minutes' }, aggregates: { revenue: ['sum', 'city'], top: ['median', 'fare'], pipeline: 'count' }, where: [['passengers', '>', 'many'], ['city', 'like', 'L%'], ['fare', '=', null]] },
        burst: { input: 'rides', key: 'driver_id', rule: { within: '5m', count: true, sum: 'fare', more_than: 6, output: 'n' } },
        orphan: { input: 'cars', window: { tumbling: '1 min' }, aggregates: { n: 'count' }, allowed_lateness: 'soon' },
        hopper: { input: 'rides', window: { hopping: '10m', every: '30m' }, aggregates: { n: 'count' }, windw: 1 },
      },
    });
    expect(found).toEqual(expect.arrayContaining([
      'schemas.rides.fields.tip: unknown type "money"; use string, int, double, bool, timestamp or decimal(N), with ? for optional',
      expect.stringMatching(/^schemas\.rides\.fields\.legs: decimal\(12\) has more than 9 decimals/),
      'schemas.rides.time: "city" must be a required timestamp; it is string',
      'schemas.trips.time: "at" is not a field of the schema',
      'pipelines.fares_per_city_15m.key[1]: "nope" is not a field of schema "rides"',
      'pipelines.fares_per_city_15m.window.tumbling: "15 minutes" is not a duration (did you mean "15m"?); use an integer with ms|s|m|h|d, e.g. "30s", "5m", "1d"',
      'pipelines.fares_per_city_15m.aggregates.revenue: sum needs a numeric field; "city" is a string',
      expect.stringMatching(/^pipelines\.fares_per_city_15m\.aggregates\.top: expected "count" or \[kind, field\]/),
      'pipelines.fares_per_city_15m.aggregates.pipeline: "pipeline" is a name Concord writes itself in output rows; choose another',
      expect.stringMatching(/^pipelines\.fares_per_city_15m\.where\[0\]: value "many" does not fit "passengers" \(int\)/),
      expect.stringMatching(/^pipelines\.fares_per_city_15m\.where\[1\]: unknown operator "like"/),
      'pipelines.fares_per_city_15m.where[2]: compare with null using "is null" / "is not null"',
      'pipelines.burst.rule: exactly one measure: "distinct": FIELD, "count": true or "sum": FIELD; got count and sum',
      expect.stringMatching(/^pipelines\.orphan\.input: "cars" is not a schema of this file/),
      // Without its schema, what does not need one is still checked (not only after the input is fixed).
      expect.stringMatching(/^pipelines\.orphan\.window\.tumbling: "1 min" is not a duration/),
      expect.stringMatching(/^pipelines\.orphan\.allowed_lateness: "soon" is not a duration/),
      expect.stringMatching(/^pipelines\.hopper\.window\.every: "30m" is longer than the window "10m"/),
      expect.stringMatching(/^pipelines\.hopper: unknown key "windw"/),
    ]));
    expect(found.length).toBeGreaterThanOrEqual(18);
  });

  it('an unknown key names the one allowed key it is a slip of (a letter left out or swapped), and none for a word near nothing or near two', () => {
    // "schemas" is nearer than "$schema".
    expect(problems({ schemaz: { rides }, pipelines: {} })[0]).toMatch(/^\(file\): unknown key "schemaz" \(did you mean "schemas"\?\); expected one of /);
    const found = problems({
      schemas: { rides: { ...rides, max_futur_skew: '1h' } },
      pipelines: {
        p: { input: 'rides', key: 'city', windwo: { tumbling: '1m' }, aggregates: { n: 'count' }, alowed_lateness: '1m', colour: 1 },
        // "window" is written already: "windw" is no slip of it (shown without a guess, as before).
        q: { input: 'rides', window: { tumbling: '1m' }, aggregates: { n: 'count' }, windw: 1 },
      },
    });
    const hint = (place: string, key: string) => found.find((f) => f.startsWith(`${place}: unknown key "${key}"`));
    expect(hint('schemas.rides', 'max_futur_skew')).toContain('(did you mean "max_future_skew"?)');
    expect(hint('pipelines.p', 'windwo')).toContain('(did you mean "window"?)');
    expect(hint('pipelines.p', 'alowed_lateness')).toContain('(did you mean "allowed_lateness"?)');
    expect(hint('pipelines.p', 'colour')).toBe('pipelines.p: unknown key "colour"; expected one of input, description, where, key, max_out_of_orderness, allowed_lateness, window, aggregates');
    expect(hint('pipelines.q', 'windw')).not.toContain('did you mean');
  });

  it('a module\'s values that are not JSON (a BigInt, a function) and a rule without a key are listed as problems, not a stack trace', () => {
    expect(problems({
      schemas: { rides },
      pipelines: {
        burst: { input: 'rides', key: 'driver_id', rule: { within: '5m', count: true, more_than: 6n, output: 'n' } },
        views: { input: 'rides', window: { tumbling: 60_000n }, aggregates: { n: 'count' } },
        keyless: { input: 'rides', rule: { within: '5m', count: true, more_than: 6, output: 'n' } },
      },
    })).toEqual([
      'pipelines.burst.rule.more_than: expected a number, got "6n (a BigInt)"',
      'pipelines.views.window.tumbling: expected a duration like "30s", "10m", "1h" or integer milliseconds, got "60000n (a BigInt)"',
      'pipelines.keyless.key: required: the field a rule runs per (one field)',
    ]);
    expect(problems(() => ({ schemas: { rides }, pipelines: {} }))).toEqual(['(file): expected an object {"schemas": {...}, "pipelines": {...}}, got a function']);
  });

  it('a field named by a shortening of one field\'s name is told that field (temp for temperature; it said no more than "not a field")', () => {
    const found = problems({
      schemas: { rides },
      pipelines: {
        p: { input: 'rides', where: [['pass', '>=', 1]], key: 'dist', window: { tumbling: '1m' }, aggregates: { km: ['avg', 'distance'] } },
        q: { input: 'rides', key: 'ci', window: { tumbling: '1m' }, aggregates: { n: 'count' } },
      },
    });
    expect(found).toEqual([
      'pipelines.p.where[0]: "pass" is not a field of schema "rides" (did you mean "passengers"?)',
      'pipelines.p.key: "dist" is not a field of schema "rides" (did you mean "distance_km"?)',
      'pipelines.p.aggregates.km: avg needs a field of schema "rides"; "distance" is not one (did you mean "distance_km"?)',
      // Two letters are no shortening to guess from.
      'pipelines.q.key: "ci" is not a field of schema "rides"',
    ]);
  });

  it('a rule keyed by a list (as a windowed pipeline is) is told a rule runs per one field (it read "[...] is not a field")', () => {
    const rule = { within: '10m', count: true, more_than: 3, output: 'n' };
    expect(problems({
      schemas: { rides },
      pipelines: { one: { input: 'rides', key: ['driver_id'], rule }, two: { input: 'rides', key: ['driver_id', 'city'], rule } },
    })).toEqual([
      'pipelines.one.key: a rule runs per one field, not a list: write "key": "driver_id"',
      'pipelines.two.key: a rule runs per one field, not a list: got 2 (["driver_id","city"])',
    ]);
  });

  it('refuses a hopping window that would put each event in more than 10,000 windows, and says which "every" fits', () => {
    const pipe = (window: unknown) => ({ schemas: { rides }, pipelines: { rolling: { input: 'rides', window, aggregates: { n: 'count' } } } });
    // 1h every 1ms: 3.6M windows per event (it validated, then stalled the stream on its first event).
    expect(problems(pipe({ hopping: '1h', every: '1ms' }))).toEqual([
      'pipelines.rolling.window.every: "1h" every "1ms" puts each event in 3,600,000 windows (each one state and an output row per key); at most 10,000 are allowed: use a longer "every" (at least "360ms")',
    ]);
    expect(problems(pipe({ hopping: '1h', every: '360ms' }))).toEqual([]);
    expect(problems(pipe({ hopping: '24h', every: '10s' }))).toEqual([]);
    expect(() => checkWindow(hopping(3_600_000, 1))).toThrow(/3600000 windows; at most 10000/);
  });

  it('an aggregate without its field says how to write it (it read: nothing is not one)', () => {
    expect(problems({ schemas: { rides }, pipelines: { p: { input: 'rides', window: { tumbling: '1m' }, aggregates: { a: ['avg'] } } } })).toEqual([
      'pipelines.p.aggregates.a: avg needs a field: ["avg", FIELD] with FIELD one of schema "rides"\'s',
    ]);
  });

  it('an empty pipeline name is said as such (it was refused with a reason about "all")', () => {
    const views = { input: 'rides', window: { tumbling: '1m' }, aggregates: { n: 'count' } };
    expect(problems({ schemas: { rides }, pipelines: { '': views, all: views } })).toEqual([
      'pipelines."": a pipeline needs a name: "" names none (--pipeline NAME selects it)',
      'pipelines.all: "all" cannot name a pipeline ("all" selects every pipeline)',
    ]);
  });

  it('a name with a line break, an invisible character or surrounding space is refused (it split or disguised printed lines)', () => {
    const views = { input: 'rides', window: { tumbling: '1m' }, aggregates: { n: 'count' } };
    expect(problems({ schemas: { rides, 'ri\u200bdes': rides }, pipelines: { 'two\nlines': views, 'evil\u202eweiv': views, ' padded': views, 'fine name-1.x': views } })).toEqual([
      'schemas["ri\\u200bdes"]: the schema name holds the character U+200B (a control or invisible character): names are printed in logs, reports, metric labels and commands; use visible characters' + RENAMED_SCHEMA,
      'pipelines["two\\nlines"]: the pipeline name holds the character U+000A (a control or invisible character): names are printed in logs, reports, metric labels and commands; use visible characters' + RENAMED_PIPELINE,
      'pipelines["evil\\u202eweiv"]: the pipeline name holds the character U+202E (a control or invisible character): names are printed in logs, reports, metric labels and commands; use visible characters' + RENAMED_PIPELINE,
      'pipelines[" padded"]: the pipeline name starts or ends with a space: it would not show where the name is printed; remove it' + RENAMED_PIPELINE,
    ]);
  });

  it('a refused name that the release before accepted says what renaming leaves behind (following "remove it" left them behind without a word)', () => {
    const views = { input: 'rides', window: { tumbling: '1m' }, aggregates: { n: 'count' } };
    const said = problems({ schemas: { 'rides ': rides }, pipelines: { 'views ': { ...views, input: 'rides ' } } });
    expect(said.find((s) => s.startsWith('schemas'))).toContain('keeps its topic and archive folder under it: see "Upgrading" in docs/operations.md');
    expect(said.find((s) => s.startsWith('pipelines'))).toContain('its stored days, checkpoints and jobs stay under the old name; see "Upgrading" in docs/operations.md');
  });

  it('says a mistake once: fields with an unknown type, or a schema without its time field, are not reported again at each use', () => {
    const uses = {
      fares: { input: 'rides', where: [['passengers', '>=', 1]], key: ['city'], window: { tumbling: '15m' }, aggregates: { revenue: ['sum', 'fare'], n: 'count', bad: ['sum', 'nope'] } },
      burst: { input: 'rides', key: 'driver_id', rule: { within: '5m', sum: 'fare', more_than: 6, output: 'n' } },
    };
    expect(problems({ schemas: { rides: { ...rides, fields: { ...rides.fields, fare: 'decimal', passengers: 'integer' } } }, pipelines: uses })).toEqual([
      'schemas.rides.fields.fare: unknown type "decimal" (decimal needs its number of decimals: "decimal(2)" for cents, "decimal(3)" for thousandths); use string, int, double, bool, timestamp or decimal(N), with ? for optional',
      'schemas.rides.fields.passengers: unknown type "integer" (did you mean "int"?); use string, int, double, bool, timestamp or decimal(N), with ? for optional',
      'pipelines.fares.aggregates.bad: sum needs a field of schema "rides"; "nope" is not one',
    ]);
    // Pipelines are still checked against the fields of a schema whose time field is misspelt.
    expect(problems({ schemas: { rides: { ...rides, time: 'pickup' } }, pipelines: uses })).toEqual([
      'schemas.rides.time: "pickup" is not a field of the schema',
      'pipelines.fares.aggregates.bad: sum needs a field of schema "rides"; "nope" is not one',
    ]);
    // A schema with no fields to check against: its pipelines say nothing about their input.
    expect(problems({ schemas: { rides: { ...rides, fields: {} } }, pipelines: uses })).toEqual([
      'schemas.rides.fields: expected an object of field name -> type with at least one field',
    ]);
  });

  it('refuses ordering comparisons on strings, reserved field and output names, duplicate outputs, fields equal but for case', () => {
    const found = problems({
      schemas: { rides: { ...rides, fields: { ...rides.fields, _offset: 'int', City: 'string' } } },
      pipelines: {
        a: { input: 'rides', key: ['fare'], window: { tumbling: '1m' }, aggregates: { n: 'count' } }, // a decimal key is fine
        b: { input: 'rides', where: [['city', '<', 'M']], key: 'city', window: { tumbling: '1m' }, aggregates: { city: 'count' } },
        c: { input: 'rides', key: 'driver_id', rule: { within: '1m', distinct: 'city', more_than: 1, output: 'ts' } },
      },
    });
    expect(found).toEqual(expect.arrayContaining([
      'schemas.rides.fields._offset: "_offset": names starting with "_" are reserved for Concord\'s own columns; rename the field',
      'schemas.rides.fields.City: "City" differs from "city" only in case; columns would collide',
      'pipelines.b.where[0]: "<" compares numbers and timestamps only; "city" is string',
      'pipelines.b.aggregates.city: "city" is already an output field of this pipeline',
      'pipelines.c.rule.output: "ts" is a name Concord writes itself in output rows; choose another',
    ]));
    expect(found.filter((x) => x.startsWith('pipelines.a'))).toEqual([]);
  });

  it('a definition version changes with what the pipeline reads, not with fields added for others', () => {
    const base = { schemas: { rides }, pipelines: { n: { input: 'rides', key: 'city', window: { tumbling: '1m' }, aggregates: { n: 'count' } } } };
    const v = definitionVersion(parseDefinitions(base, 'x').pipeline('n'));
    const more = { ...base, schemas: { rides: { ...rides, fields: { ...rides.fields, extra: 'int?' } } } };
    expect(definitionVersion(parseDefinitions(more, 'x').pipeline('n'))).toBe(v);
    const filtered = { ...base, pipelines: { n: { ...base.pipelines.n, where: [['passengers', '>', 0]] } } };
    expect(definitionVersion(parseDefinitions(filtered, 'x').pipeline('n'))).not.toBe(v);
  });

  it('the seed example file holds the three seed pipelines', () => {
    expect(seedRegistry().pipelines.map((p) => p.name)).toEqual(['page_views_per_minute', 'unique_visitors_5m', 'fraud_multi_country']);
    expect(seedRegistry().sketchedFields('clicks')).toEqual(['visitor_id']);
  });
});
