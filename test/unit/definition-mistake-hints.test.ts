import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { parseDuration } from '../../pipeline/time.ts';

// The mistakes a user who knows Flink SQL makes in a first definitions file (a smart-meter walk,
// 2026-12-07): each problem says what to write instead, not only what is allowed.
const readings = {
  time: 'read_at', id: 'reading_id',
  fields: { reading_id: 'string', read_at: 'timestamp', meter_id: 'string', region: 'string', kwh: 'decimal(3)', voltage: 'double' },
};
const problems = (content: unknown): readonly string[] => definitionProblems(content, 'meters.json');
const withFields = (fields: Record<string, string>) => problems({
  schemas: { readings: { ...readings, fields: { ...readings.fields, ...fields } } },
  pipelines: { n: { input: 'readings', window: { tumbling: '15m' }, aggregates: { n: 'count' } } },
});
const withPipeline = (pipeline: Record<string, unknown>) => problems({ schemas: { readings }, pipelines: { p: { input: 'readings', ...pipeline } } });

describe('definition mistakes a new user makes', () => {
  it('names the type of this file a SQL or Flink SQL type name means', () => {
    expect(withFields({ a: 'float', b: 'DOUBLE', c: 'BIGINT', d: 'integer?', e: 'STRING', f: 'VARCHAR(64)', g: 'boolean', h: 'TIMESTAMP(3)', i: 'TIMESTAMP_LTZ(3)' })).toEqual([
      'schemas.readings.fields.a: unknown type "float" (did you mean "double"?); use string, int, double, bool, timestamp or decimal(N), with ? for optional',
      expect.stringMatching(/^schemas\.readings\.fields\.b: unknown type "DOUBLE" \(did you mean "double"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.c: unknown type "BIGINT" \(did you mean "int"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.d: unknown type "integer\?" \(did you mean "int\?"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.e: unknown type "STRING" \(did you mean "string"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.f: unknown type "VARCHAR\(64\)" \(did you mean "string"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.g: unknown type "boolean" \(did you mean "bool"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.h: unknown type "TIMESTAMP\(3\)" \(did you mean "timestamp"\?\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.i: unknown type "TIMESTAMP_LTZ\(3\)" \(did you mean "timestamp"\?\)/),
    ]);
  });

  it("takes SQL's DECIMAL(precision, scale) for its scale, and asks a bare decimal for its decimals", () => {
    expect(withFields({ a: 'DECIMAL(10, 3)', b: 'decimal' })).toEqual([
      expect.stringMatching(/^schemas\.readings\.fields\.a: unknown type "DECIMAL\(10, 3\)" \(did you mean "decimal\(3\)"\? N is the number of decimals, SQL's scale\)/),
      expect.stringMatching(/^schemas\.readings\.fields\.b: unknown type "decimal" \(decimal needs its number of decimals: "decimal\(2\)" for cents/),
    ]);
    expect(withFields({ a: 'money' })[0]).toBe('schemas.readings.fields.a: unknown type "money"; use string, int, double, bool, timestamp or decimal(N), with ? for optional');
  });

  it('says which duration "15 min", "1 hour" or INTERVAL \'10\' MINUTE mean, in a file and on the command line', () => {
    expect(withPipeline({ window: { tumbling: '15 min' }, aggregates: { n: 'count' }, allowed_lateness: '1 hour' })).toEqual([
      expect.stringMatching(/^pipelines\.p\.allowed_lateness: "1 hour" is not a duration \(did you mean "1h"\?\)/),
      'pipelines.p.window.tumbling: "15 min" is not a duration (did you mean "15m"?); use an integer with ms|s|m|h|d, e.g. "30s", "5m", "1d"',
    ]);
    expect(withPipeline({ key: 'meter_id', rule: { within: "INTERVAL '10' MINUTE", count: true, more_than: 3, output: 'n' } })).toEqual([
      expect.stringMatching(/^pipelines\.p\.rule\.within: "INTERVAL '10' MINUTE" is not a duration \(did you mean "10m"\?\)/),
    ]);
    expect(() => parseDuration('30 seconds', '--allowed-lateness')).toThrow('--allowed-lateness: "30 seconds" is not a duration (did you mean "30s"?); use an integer');
    expect(() => parseDuration('soon', '--allowed-lateness')).toThrow('--allowed-lateness: "soon" is not a duration; use an integer');
  });

  it("says a rule's missing threshold and span are required, and a quoted number is to be written bare", () => {
    expect(withPipeline({ key: 'meter_id', where: [['voltage', '<', 207]], rule: { count: true, output: 'drops' } })).toEqual([
      'pipelines.p.rule.within: required: a duration like "30s", "10m", "1h" or integer milliseconds',
      'pipelines.p.rule.more_than: required: the threshold; an alert is raised when the measure first exceeds it, e.g. "more_than": 3',
    ]);
    expect(withPipeline({ key: 'meter_id', rule: { within: '10m', count: true, more_than: '3', output: 'drops' } })).toEqual([
      'pipelines.p.rule.more_than: expected a number, got "3" (write it without quotes: 3)',
    ]);
  });

  it("answers a window's time zone with the offsets of that zone's local time (daylight saving is not followed)", () => {
    const found = withPipeline({ key: 'meter_id', window: { tumbling: '24h', time_zone: 'Europe/Oslo' }, aggregates: { n: 'count' } });
    expect(found).toEqual([
      'pipelines.p.window: windows have no "time_zone": they start at fixed offsets from UTC and do not follow daylight saving time. ' +
      'Windows stepping by "24h" aligned to local time in "Europe/Oslo" take "offset": "-1h" while it is at UTC+01:00 and "offset": "-2h" while it is at UTC+02:00 ' +
      '(a new definition version at each change); the schema\'s "time_zone" only says how a time without a zone is read',
    ]);
    expect(withPipeline({ window: { hopping: '1h', every: '1h', tz: 'Asia/Kolkata' }, aggregates: { n: 'count' } })[0])
      .toContain('aligned to local time in "Asia/Kolkata" take "offset": "-30m" (UTC+05:30 all year)');
  });

  it('tells a tumbling window with "every" to be a hopping one', () => {
    expect(withPipeline({ window: { tumbling: '1h', every: '15m' }, aggregates: { n: 'count' } })).toEqual([
      'pipelines.p.window: a tumbling window has no "every"; for windows that overlap write {"hopping": "1h", "every": "15m"}',
    ]);
  });

  it("lists a sketch's bad quantile with its misspelt field, and names a field whose own type is the problem", () => {
    // The first run listed neither the quantile of 95 nor "voltage" for "volatge" (its type "float" was
    // refused, so it was no field); each showed only once the other mistake was fixed.
    const found = problems({
      schemas: { readings: { ...readings, fields: { ...readings.fields, voltage: 'float' } } },
      pipelines: { p: { input: 'readings', window: { tumbling: '1h' }, aggregates: { p95: ['approx_percentile', 'voltag', 95], top: ['max', 'volatge'], n: ['approx_distinct', 'meter', 20] } } },
    });
    expect(found).toEqual([
      expect.stringMatching(/^schemas\.readings\.fields\.voltage: unknown type "float"/),
      'pipelines.p.aggregates.p95: quantile 95 is not in (0, 1]: write the 95th percentile as 0.95',
      'pipelines.p.aggregates.p95: approx_percentile needs a field of schema "readings"; "voltag" is not one (did you mean "voltage"?)',
      'pipelines.p.aggregates.top: max needs a field of schema "readings"; "volatge" is not one (did you mean "voltage"?)',
      'pipelines.p.aggregates.n: approx_distinct precision must be an integer in 4..16, got 20',
      'pipelines.p.aggregates.n: approx_distinct needs a field of schema "readings"; "meter" is not one (did you mean "meter_id"?)',
    ]);
  });
});
