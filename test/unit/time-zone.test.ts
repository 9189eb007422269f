import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { ACCEPTED_ZONE_FORMS as ACCEPTED } from '../../pipeline/parse-time-zone.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { recordKey } from '../../stream/kafka/topics.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Producers on Flink (JSON format, `timestamp-format.standard` SQL), Spark or Hive send
// "2026-11-23 10:00:05": a space for the T, and no zone. Such a time was a dead letter that said to add
// Z. The schema's `time_zone` now reads it in the producer's zone, DST as java.time resolves it.
const clicks = (extra: Record<string, unknown> = {}, where?: unknown[]) => ({
  schemas: { clicks: { time: 'ts', id: 'event_id', key: 'userId', fields: { event_id: 'string', ts: 'timestamp', userId: 'string', url: 'string', at: 'timestamp?' }, ...extra } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count' }, ...(where ? { where } : {}) } },
});
const pos = { source: 'file:x.jsonl', offset: 3 };
const line = (ts: unknown): string => JSON.stringify({ event_id: 'e1', ts, userId: 'u1', url: '/a' });
/** The event time `ts` reads as under the schema's extra keys (ISO, UTC), or the dead letter's reason. */
const read = (extra: Record<string, unknown>, ts: unknown): string => {
  const out = decodeLine(parseDefinitions(clicks(extra), 'd.json').schema('clicks'), line(ts), pos);
  return out.ok ? new Date(out.event.ts as number).toISOString() : out.deadLetter.reason;
};
const problems = (file: unknown): readonly string[] => definitionProblems(file, 'd.json');
const oslo = { time_zone: 'Europe/Oslo' }, newYork = { time_zone: 'America/New_York' };

describe('SQL-format timestamps (a space for the T)', () => {
  it('are read wherever ISO is: with Z or an offset, digits past the millisecond cut, more than 9 refused', () => {
    expect(read({}, '2026-11-23 10:00:05Z')).toBe('2026-11-23T10:00:05.000Z');
    expect(read({}, '2026-11-23 10:00:05.123456789+01:00')).toBe('2026-11-23T09:00:05.123Z');
    expect(read({}, '2026-11-23 10:00:05.9999Z')).toBe('2026-11-23T10:00:05.999Z');
    expect(read(oslo, '2026-11-23 10:00:05.123456')).toBe('2026-11-23T09:00:05.123Z');
    expect(read(oslo, '2026-11-23 10:00:05.1234567891')).toBe('ts: "2026-11-23 10:00:05.1234567891" has 10 digits after the second; at most 9 (nanoseconds) are read, and those past milliseconds are cut');
    expect(read({}, '2026-11-23 10:00:05.1234567891Z')).toMatch(/has 10 digits after the second/);
  });
});

describe('a time without a zone', () => {
  it('without "time_zone" is a dead letter saying what to add (it said only to add Z)', () => {
    for (const ts of ['2026-11-23 10:00:05', '2026-11-23T10:00:05', '2026-11-23 10:00:05.123']) {
      expect(read({}, ts)).toBe(`ts: "${ts}" has no time zone; add "time_zone" to the schema (the producer's zone, e.g. "Europe/Oslo", or "UTC"), or send Z or an offset like +02:00`);
    }
  });

  it('is read in the schema\'s zone, winter and summer; Z and offsets are read as before', () => {
    expect(read(oslo, '2026-11-23 10:00:05')).toBe('2026-11-23T09:00:05.000Z');
    expect(read(oslo, '2026-07-01T10:00:05')).toBe('2026-07-01T08:00:05.000Z');
    expect(read(newYork, '2026-11-23 10:00')).toBe('2026-11-23T15:00:00.000Z');
    expect(read({ time_zone: 'UTC' }, '2026-11-23 10:00:05.5')).toBe('2026-11-23T10:00:05.500Z');
    expect(read(oslo, '2026-11-23 10:00:05Z')).toBe('2026-11-23T10:00:05.000Z');
    expect(read(oslo, '2026-11-23T10:00:05-05:00')).toBe('2026-11-23T15:00:05.000Z');
    expect(read(oslo, 1_796_112_040_000)).toBe('2026-12-01T08:00:40.000Z');
    // Every timestamp field of the schema, the optional ones too.
    const schema = parseDefinitions(clicks(oslo), 'd.json').schema('clicks');
    const out = decodeLine(schema, JSON.stringify({ event_id: 'e1', ts: '2026-11-23 10:00:05', userId: 'u', url: '/', at: '2026-11-23 11:00:00' }), pos);
    expect(out.ok && out.event.at).toBe(Date.UTC(2026, 10, 23, 10));
  });

  it('in the skipped hour (spring forward) moves forward by the gap, as java.time\'s ZonedDateTime.of', () => {
    expect(read(oslo, '2026-03-29 01:59:59')).toBe('2026-03-29T00:59:59.000Z'); // +01:00
    expect(read(oslo, '2026-03-29 02:00:00')).toBe('2026-03-29T01:00:00.000Z'); // 03:00 +02:00
    expect(read(oslo, '2026-03-29 02:30:00')).toBe('2026-03-29T01:30:00.000Z'); // 03:30 +02:00
    expect(read(oslo, '2026-03-29 03:00:00')).toBe('2026-03-29T01:00:00.000Z');
    expect(read(newYork, '2026-03-08 02:30:00')).toBe('2026-03-08T07:30:00.000Z'); // 03:30 -04:00
    expect(read(newYork, '2026-03-08 03:30:00')).toBe('2026-03-08T07:30:00.000Z');
  });

  it('in the repeated hour (fall back) takes the earlier offset, the earlier instant', () => {
    expect(read(oslo, '2026-10-25 01:59:59')).toBe('2026-10-24T23:59:59.000Z');
    expect(read(oslo, '2026-10-25 02:30:00')).toBe('2026-10-25T00:30:00.000Z'); // +02:00, not 01:30Z
    expect(read(oslo, '2026-10-25 03:00:00')).toBe('2026-10-25T02:00:00.000Z'); // +01:00
    expect(read(newYork, '2026-11-01 01:30:00')).toBe('2026-11-01T05:30:00.000Z'); // -04:00, not 06:30Z
    expect(read(newYork, '2026-11-01 02:30:00')).toBe('2026-11-01T07:30:00.000Z'); // -05:00
  });

  it('a transition inside a UTC hour (Lord Howe\'s half-hour DST, at 15:30Z) is read to the minute', () => {
    const lordHowe = { time_zone: 'Australia/Lord_Howe' };
    expect(read(lordHowe, '2026-10-04 01:59:59')).toBe('2026-10-03T15:29:59.000Z'); // +10:30
    expect(read(lordHowe, '2026-10-04 02:15:00')).toBe('2026-10-03T15:45:00.000Z'); // in the gap: 02:45 +11:00
    expect(read(lordHowe, '2026-10-04 02:30:00')).toBe('2026-10-03T15:30:00.000Z');
    expect(read(lordHowe, '2026-04-05 01:45:00')).toBe('2026-04-04T14:45:00.000Z'); // repeated: +11:00
  });

  it('outside years 1970..9999 once in UTC is refused as for an offset', () => {
    expect(read(oslo, '1970-01-01 00:30')).toBe('ts: "1970-01-01 00:30" is outside years 1970..9999 (UTC)');
    expect(read(newYork, '9999-12-31 23:59:59')).toBe('ts: "9999-12-31 23:59:59" is outside years 1970..9999 (UTC)');
    expect(read(oslo, '2026-02-30 10:00')).toBe('ts: "2026-02-30 10:00" is not a valid calendar time');
  });

  it('keys Kafka records as the workers read the field', () => {
    const schema = parseDefinitions({ ...clicks(oslo), schemas: { clicks: { ...clicks(oslo).schemas.clicks, key: 'at' } } }, 'd.json').schema('clicks');
    expect(recordKey(schema, { event_id: 'e', ts: 0, userId: 'u', url: '/', at: '2026-11-23 10:00:00' })).toBe(String(Date.UTC(2026, 10, 23, 9)));
  });
});

describe('the schema\'s "time_zone"', () => {
  it('an unknown zone is a problem of validate naming the place and the likely zone', () => {
    expect(problems(clicks({ time_zone: 'Europe/Olso' }))).toEqual([`schemas.clicks.time_zone: unknown time zone "Europe/Olso" (did you mean "Europe/Oslo"?); ${ACCEPTED}`]);
    expect(problems(clicks({ time_zone: ' Europe/Oslo' }))[0]).toMatch(/unknown time zone " Europe\/Oslo" \(did you mean "Europe\/Oslo"\?\)/);
    expect(problems(clicks({ time_zone: 1 }))[0]).toMatch(/unknown time zone 1; use an IANA name/);
    expect(problems(clicks({ time_zones: 'UTC' }))[0]).toMatch(/unknown key "time_zones" \(did you mean "time_zone"\?\)/);
  });

  it('an offset or abbreviation written as a zone names the accepted form it likely meant (it was refused without a suggestion)', () => {
    const said = (zone: string) => problems(clicks({ time_zone: zone }))[0];
    const offset = (z: string, o: string, etc: string) => `schemas.clicks.time_zone: unknown time zone "${z}" (did you mean the fixed offset "${o}"${etc}? ` +
      `a fixed offset has no daylight saving: for local time with it, use the place's IANA name); ${ACCEPTED}`;
    expect(said('UTC-5')).toBe(offset('UTC-5', '-05:00', ' or "Etc/GMT+5"'));
    expect(said('GMT-5')).toBe(offset('GMT-5', '-05:00', ' or "Etc/GMT+5"'));
    expect(said('+5')).toBe(offset('+5', '+05:00', ' or "Etc/GMT-5"'));
    expect(said('UTC+5:30')).toBe(offset('UTC+5:30', '+05:30', ''));
    expect(said('EDT')).toBe(`schemas.clicks.time_zone: unknown time zone "EDT" (an abbreviation, not a zone: did you mean "America/New_York"? it switches between standard and daylight time); ${ACCEPTED}`);
    expect(said('CEST')).toMatch(/^schemas\.clicks\.time_zone: unknown time zone "CEST" \(an abbreviation, not a zone: did you mean "Europe\/Berlin"\?/);
    expect(ACCEPTED).toContain('"Etc/GMT+5", whose sign is inverted: it is UTC-05:00');
  });

  it('the forms the message names are accepted and read as it says: a fixed offset, and Etc/GMT with its sign inverted', () => {
    for (const zone of ['-05:00', 'Etc/GMT+5', 'America/New_York', 'UTC']) expect(problems(clicks({ time_zone: zone })), zone).toEqual([]);
    expect(read({ time_zone: '-05:00' }, '2026-11-23 10:00:05')).toBe('2026-11-23T15:00:05.000Z');
    expect(read({ time_zone: 'Etc/GMT+5' }, '2026-11-23 10:00:05')).toBe('2026-11-23T15:00:05.000Z');
    expect(read({ time_zone: '+05:30' }, '2026-11-23 10:00:05')).toBe('2026-11-23T04:30:05.000Z');
  });

  it('an unknown zone is listed once: a filter\'s time without a zone is not refused again for it', () => {
    // It was: the zone's line, then `add "time_zone" to the schema` for every such constant, naming a key the file has.
    expect(problems(clicks({ time_zone: 'America/NewYork' }, [['ts', '>=', '2026-11-23 10:00:00'], ['at', 'in', ['2026-11-23 11:00']]]))).toEqual([
      `schemas.clicks.time_zone: unknown time zone "America/NewYork" (did you mean "America/New_York"?); ${ACCEPTED}`,
    ]);
    expect(problems(clicks({ time_zone: 'America/NewYork' }, [['ts', '>=', '2026-11-23 25:00:00']]))[1]).toMatch(/^pipelines\.per_url\.where\[0\]: value "2026-11-23 25:00:00" does not fit "ts"/);
  });

  it('explain says which zone a time without one is read in (it said nothing of it)', () => {
    const ws = tempWorkspace();
    try {
      const file = (extra: Record<string, unknown>) => ws.file(`d${Object.keys(extra).length}.json`, [clicks(extra, [['ts', '>=', '2026-11-23 10:00:00']])]);
      const zoned = concord(['explain', '--definitions', file(newYork), '--pipeline', 'per_url']);
      expect(zoned.code).toBe(0);
      expect(zoned.stdout).toContain('timestamps without Z or an offset ("2026-11-23 10:00:05") read in America/New_York, daylight saving as java.time resolves it');
      expect(zoned.stdout).toContain('filter     ts >= "2026-11-23T15:00:00.000Z"');
      expect(concord(['explain', '--definitions', file({}), '--pipeline', 'per_url']).stderr).toMatch(/has no time zone; add "time_zone"/);
    } finally {
      ws.cleanup();
    }
  });

  it('is part of the definition version when set; one zone under two spellings is one version', () => {
    const version = (extra: Record<string, unknown>) => definitionVersion(parseDefinitions(clicks(extra), 'd.json').pipeline('per_url'));
    expect(version(oslo)).not.toBe(version({}));
    expect(version({ time_zone: 'UTC' })).not.toBe(version({}));
    expect(version({ time_zone: 'UTC' })).not.toBe(version(oslo));
    expect(version({ time_zone: 'europe/oslo' })).toBe(version(oslo));
    expect(version({ time_zone: 'US/Eastern' })).toBe(version(newYork));
  });

  it('a schema without it keeps its version, byte for byte (the version before time_zone existed)', () => {
    const file = clicks({}, [['ts', '>=', '2026-11-23T10:00:00Z']]);
    expect(definitionVersion(parseDefinitions(file, 'd.json').pipeline('per_url'))).toBe('e8e4c8b79d1d') // computed at fe11fda, before time_zone;
  });

  it('reads a filter\'s timestamp without a zone in the zone; without one, validate refuses it', () => {
    const since = (extra: Record<string, unknown>, value: string) => {
      const def = parseDefinitions(clicks(extra, [['ts', '>=', value]]), 'd.json').pipeline('per_url');
      return def.where[0]!.op === '>=' ? def.where[0]!.value : undefined;
    };
    expect(since(oslo, '2026-11-23 10:00:00')).toBe(Date.UTC(2026, 10, 23, 9));
    expect(since(oslo, '2026-03-29 02:30')).toBe(Date.UTC(2026, 2, 29, 1, 30));
    expect(since(oslo, '2026-11-23T10:00:00Z')).toBe(Date.UTC(2026, 10, 23, 10));
    expect(since({}, '2026-11-23 10:00:00Z')).toBe(Date.UTC(2026, 10, 23, 10));
    expect(problems(clicks({}, [['ts', '>=', '2026-11-23 10:00:00']]))).toEqual([
      'pipelines.per_url.where[0]: value "2026-11-23 10:00:00" does not fit "ts" (timestamp): ts: "2026-11-23 10:00:00" has no time zone; add "time_zone" to the schema (the producer\'s zone, e.g. "Europe/Oslo", or "UTC"), or send Z or an offset like +02:00',
    ]);
  });
});
