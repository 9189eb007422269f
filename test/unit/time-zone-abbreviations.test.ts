import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { canonicalTimeZone } from '../../schemas/time-zones.ts';

// `"time_zone": "EST"` was taken as the runtime's legacy zone: America/Panama, UTC-05:00 all year, so a
// New York producer's summer times were read an hour off; "BST" was Bangladesh, "IST" India (for an
// Israeli or Irish producer), "AST" Alaska. Such abbreviations are now refused, naming the zones meant.
const file = (zone?: string, where?: unknown[]) => ({
  schemas: { s: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp' }, ...(zone === undefined ? {} : { time_zone: zone }) } },
  pipelines: { p: { input: 's', key: [], window: { tumbling: '1h' }, aggregates: { n: 'count' }, ...(where ? { where } : {}) } },
});
const problems = (zone?: string, where?: unknown[]) => definitionProblems(file(zone, where));
const at = 'schemas.s.time_zone: ';

describe('a schema\'s time_zone written as an abbreviation', () => {
  it('a standard time the runtime takes for a zone without daylight saving is refused, naming the zones and the fixed offset', () => {
    expect(problems('EST')).toEqual([`${at}"EST" is fixed UTC-05:00 all year (no daylight saving); for New York write "America/New_York", or "-05:00" if a fixed offset is meant`]);
    expect(problems('est')).toEqual([`${at}"est" is fixed UTC-05:00 all year (no daylight saving); for New York write "America/New_York", or "-05:00" if a fixed offset is meant`]);
    expect(problems('MST')).toEqual([`${at}"MST" is fixed UTC-07:00 all year (no daylight saving); for Denver write "America/Denver", for Arizona "America/Phoenix", or "-07:00" if a fixed offset is meant`]);
    expect(problems('HST')[0]).toMatch(/^schemas\.s\.time_zone: "HST" is fixed UTC-10:00 all year .*for Hawaii write "Pacific\/Honolulu", for the Aleutians "America\/Adak", or "-10:00"/);
  });

  it('an ambiguous or non-IANA one is refused, naming each zone it is said for and what the runtime would take', () => {
    expect(problems('IST')).toEqual([`${at}"IST" is an abbreviation, no zone (java.time, and so Flink, refuses it too; this runtime's time zone data would take it for "${canonicalTimeZone('IST')}"): for India write "Asia/Kolkata", for Israel "Asia/Jerusalem", for Ireland "Europe/Dublin"`]);
    expect(problems('BST')[0]).toMatch(/"BST" is an abbreviation, no zone .*would take it for "Asia\/Dhaka"\): for the UK write "Europe\/London", for Bangladesh "Asia\/Dhaka"$/);
    expect(problems('AST')[0]).toMatch(/for Atlantic Canada write "America\/Halifax"/);
    expect(problems('PST')[0]).toMatch(/"PST" is an abbreviation, no zone .*: for Los Angeles write "America\/Los_Angeles"$/);
    for (const zone of ['CST', 'SST', 'NST', 'ECT', 'ART', 'ACT', 'JST', 'CTT', 'VST']) expect(problems(zone), zone).toHaveLength(1);
  });

  it('every zone named is one the runtime knows (a suggestion that is refused in turn would be worse than none)', () => {
    for (const zone of ['EST', 'MST', 'HST', 'IST', 'BST', 'AST', 'CST', 'PST', 'SST', 'NST', 'ECT', 'ART', 'ACT', 'AET', 'AGT', 'BET', 'CAT', 'CNT', 'CTT', 'EAT', 'IET', 'JST', 'MIT', 'NET', 'PLT', 'PNT', 'PRT', 'VST']) {
      const named = [...problems(zone)[0]!.matchAll(/for [^"]+ "([^"]+)"/g)].map((m) => m[1]!);
      expect(named.length, zone).toBeGreaterThan(0);
      for (const z of named) expect(canonicalTimeZone(z), `${zone}: ${z}`).toBeDefined();
    }
  });

  it('IANA names, their links and legacy names that mean what they say, fixed offsets and UTC stay accepted', () => {
    for (const zone of ['America/New_York', 'US/Eastern', 'EST5EDT', 'CST6CDT', 'CET', 'EET', 'GB', 'Japan', 'Europe/Dublin', 'UTC', 'GMT', '-05:00', '+05:30', 'Etc/GMT+5']) {
      expect(problems(zone), zone).toEqual([]);
    }
  });

  it('concord validate says it and exits 2, no stack', () => {
    const ws = tempWorkspace();
    try {
      const r = concord(['validate', '--definitions', ws.file('d.json', [file('EST')])]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('schemas.s.time_zone: "EST" is fixed UTC-05:00 all year (no daylight saving); for New York write "America/New_York"');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      ws.cleanup();
    }
  });
});

describe('a time ending in an abbreviation, in an event or a filter', () => {
  const reason = (ts: string, zone?: string): string | null => {
    const out = decodeLine(parseDefinitions(file(zone), 'd.json').schema('s'), JSON.stringify({ id: 'e1', ts }), { source: 'file:x.jsonl', offset: 0 });
    return out.ok ? null : out.deadLetter.reason;
  };

  it('is a dead letter naming the offset or the zone to send, with or without the schema\'s time_zone', () => {
    const est = 'ts: "2026-03-01 10:00 EST" ends in the zone abbreviation "EST", which is not read (an abbreviation names no zone for sure); ' +
      'send Z or an offset ("2026-03-01 10:00-05:00"), or the time alone with the schema\'s "time_zone" set to the producer\'s zone: "America/New_York" (New York)';
    expect(reason('2026-03-01 10:00 EST')).toBe(est);
    expect(reason('2026-03-01 10:00 EST', 'America/New_York')).toBe(est);
    expect(reason('2026-03-01T10:00:00IST')).toBe('ts: "2026-03-01T10:00:00IST" ends in the zone abbreviation "IST", which is not read (an abbreviation names no zone for sure); ' +
      'send Z or an offset, or the time alone with the schema\'s "time_zone" set to the producer\'s zone: "Asia/Kolkata" (India), or "Asia/Jerusalem" (Israel), or "Europe/Dublin" (Ireland)');
    expect(reason('2026-03-01 10:00:00 UTC')).toBe('ts: "2026-03-01 10:00:00 UTC" ends in "UTC"; write Z for UTC: "2026-03-01 10:00:00Z"');
    // What it says to send is read.
    expect(reason('2026-03-01 10:00-05:00')).toBeNull();
  });

  it('a filter\'s constant is refused by validate for the same reason', () => {
    expect(problems('America/New_York', [['ts', '>=', '2026-03-01 10:00 EST']])).toEqual([
      'pipelines.p.where[0]: value "2026-03-01 10:00 EST" does not fit "ts" (timestamp): ts: "2026-03-01 10:00 EST" ends in the zone abbreviation "EST", which is not read (an abbreviation names no zone for sure); ' +
      'send Z or an offset ("2026-03-01 10:00-05:00"), or the time alone with the schema\'s "time_zone" set to the producer\'s zone: "America/New_York" (New York)',
    ]);
  });
});
