import { describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { decodeLine } from '../../schemas/decode.ts';

// JSON.parse reads a number past the largest double (1e309, an overflowing sensor's -1e400) as
// Infinity, which JSON.stringify writes `null`: the dead letter said `temperature: expected a finite
// number, got number null` of an event whose temperature was there.
const defs = {
  schemas: { sensors: { time: 'ts', id: 'reading_id', fields: { reading_id: 'string', ts: 'timestamp', temperature: 'double', humidity: 'int?', battery: 'decimal(2)?' } } },
  pipelines: { per_minute: { input: 'sensors', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
};
const schema = parseDefinitions(defs, 'sensors.json').schema('sensors');
const reasonOf = (fields: string): string | undefined => {
  const out = decodeLine(schema, `{"reading_id":"r1","ts":1795392000000,"temperature":1.5,${fields}}`, { source: 'file:x.jsonl', offset: 0 });
  return out.ok ? undefined : out.deadLetter.reason;
};

describe('a number beyond the largest double is named so in a dead letter', () => {
  it.each([
    ['"temperature":1e309', 'temperature: expected a finite number, got a number beyond 1.8e308 (no double holds it)'],
    ['"temperature":-1e400', 'temperature: expected a finite number, got a number beyond -1.8e308 (no double holds it)'],
    ['"humidity":1e309', 'humidity: expected an integer, got a number beyond 1.8e308 (no double holds it)'],
    ['"battery":1e309', 'battery: expected a finite amount, got a number beyond 1.8e308 (no double holds it)'],
    ['"ts":1e309', 'ts: expected epoch milliseconds or an ISO-8601 string, got a number beyond 1.8e308 (no double holds it)'],
  ])('%s', (fields, reason) => {
    expect(reasonOf(fields)).toBe(reason);
  });
});

// A producer's switch to microseconds (Go's UnixMicro) or nanoseconds (Python's time.time_ns()) was
// refused as "outside years 1970..9999 (epoch milliseconds expected)", under epoch_unit "auto" too,
// which reads seconds as well: the reason now names the unit the number is in and the time it means.
describe('a timestamp in microseconds or nanoseconds is named so', () => {
  it.each([
    ['"ts":1795392242816000', 'ts: 1795392242816000 looks like epoch microseconds (2026-11-23T00:04:02.816Z), not milliseconds; send milliseconds'],
    ['"ts":1795392242816000000', 'ts: 1795392242816000000 looks like epoch nanoseconds (2026-11-23T00:04:02.816Z), not milliseconds; send milliseconds'],
    ['"ts":253402300800000', 'ts: 253402300800000 is outside years 1970..9999 (epoch milliseconds expected)'],
    ['"ts":-5', 'ts: -5 is outside years 1970..9999 (epoch milliseconds expected)'],
  ])('%s', (fields, reason) => {
    expect(reasonOf(fields)).toBe(reason);
  });

  it('under epoch_unit "auto" a number past 9999 says both units are read', () => {
    const auto = parseDefinitions({ ...defs, schemas: { sensors: { ...defs.schemas.sensors, epoch_unit: 'auto' } } }, 'sensors.json').schema('sensors');
    const out = decodeLine(auto, '{"reading_id":"r1","ts":253402300800000,"temperature":1}', { source: 'file:x.jsonl', offset: 0 });
    expect(!out.ok && out.deadLetter.reason).toBe('ts: 253402300800000 is outside years 1970..9999 (epoch seconds or milliseconds expected)');
  });
});

// A 10 kB string in a number's field made a 10 kB reason (the line itself is kept up to 4,096
// characters), printed whole as the stream's `first rejected:` and stored with each dead letter.
describe('a long value is quoted by its start and its length', () => {
  it('a string', () => {
    const reason = reasonOf(`"humidity":"${'9'.repeat(10240)}"`);
    expect(reason).toBe(`humidity: expected an integer, got string "${'9'.repeat(100)}"... (10240 characters)`);
  });
  it('an object, and never half an emoji', () => {
    const reason = reasonOf(`"temperature":{"v":"${'x'.repeat(93)}😀😀"}`) ?? '';
    expect(reason).toBe(`temperature: expected a finite number, got object {"v":"${'x'.repeat(93)}... (${'{"v":"'.length + 93 + 4 + 2} characters)`);
    expect(reason).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no lone high half of a pair
  });
  it('a short one whole', () => {
    expect(reasonOf('"humidity":"42"')).toBe('humidity: expected an integer, got string "42"');
  });
});

// 2^53 + 7 is read as 9007199254741000: the reason quoted a number the line does not hold, and a user
// grepping the raw line for it found nothing.
describe('an integer past 2^53 says it is the number as read', () => {
  it('beyond 2^53', () => {
    expect(reasonOf('"humidity":9007199254740999')).toBe(
      "humidity: 9007199254741000 is not an integer within +-(2^53 - 1) (as read: a JSON number this large keeps about 16 digits, so the last ones may differ from the line's)");
  });
  it('a fraction as before', () => {
    expect(reasonOf('"humidity":45.5')).toBe('humidity: 45.5 is not an integer within +-(2^53 - 1)');
  });
});
