import { describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A smart meter in Oslo sending local times without an offset: on 2026-10-25 the readings of 01:00Z..02:00Z
// say "02:xx" a second time and were read an hour early (late, or in the hour before), while `explain`
// said only "daylight saving as java.time resolves it".
const meters = (timeZone: string) => ({
  schemas: { readings: { time: 'read_at', id: 'reading_id', time_zone: timeZone, fields: { reading_id: 'string', read_at: 'timestamp', meter_id: 'string' } } },
  pipelines: { per_meter: { input: 'readings', key: 'meter_id', window: { tumbling: '15m' }, aggregates: { n: 'count' } } },
});

describe('explain of a schema whose times may come without a zone', () => {
  it('says a time of the repeated hour is read at its first pass, and how far early the second pass lands', () => {
    const ws = tempWorkspace();
    try {
      const oslo = concord(['explain', '--definitions', ws.file('oslo.json', [meters('Europe/Oslo')]), '--pipeline', 'per_meter']);
      expect(oslo.code).toBe(0);
      expect(oslo.stdout).toContain('when clocks go back (by 1h) a time in the repeated span is read at its first pass (UTC+02:00): ' +
        "the second pass's times land 1h early; send those with their offset");
      const kolkata = concord(['explain', '--definitions', ws.file('kolkata.json', [meters('Asia/Kolkata')]), '--pipeline', 'per_meter']);
      expect(kolkata.code).toBe(0);
      expect(kolkata.stdout).toMatch(/read in Asia\/(Kolkata|Calcutta)/);
      expect(kolkata.stdout).not.toContain('clocks go back'); // no daylight saving there
    } finally {
      ws.cleanup();
    }
  });

  it('names the zone as the file wrote it (it said Asia/Calcutta for Asia/Kolkata), one zone one definition version', () => {
    const ws = tempWorkspace();
    try {
      const explain = (zone: string) => concord(['explain', '--definitions', ws.file(`${zone.replace('/', '-')}.json`, [meters(zone)]), '--pipeline', 'per_meter']);
      const kolkata = explain('Asia/Kolkata'), calcutta = explain('Asia/Calcutta'), lower = explain('europe/oslo');
      expect(kolkata.code, kolkata.stderr).toBe(0);
      expect(kolkata.stdout).toContain('read in Asia/Kolkata, daylight saving');
      expect(kolkata.stdout).not.toContain('Calcutta');
      expect(calcutta.stdout).toContain('read in Asia/Calcutta, daylight saving');
      const version = (out: string) => /definition version (\w+)/.exec(out)?.[1];
      expect(version(kolkata.stdout)).toBe(version(calcutta.stdout)); // the same zone: the same results
      // A name right but for its case is shown as the zone is spelt.
      expect(lower.stdout).toContain('read in Europe/Oslo, daylight saving');
    } finally {
      ws.cleanup();
    }
  });

  it('what it says is what the decoder does: 02:30 on the day clocks go back is 00:30Z, not 01:30Z', () => {
    const schema = parseDefinitions(meters('Europe/Oslo'), 'meters.json').schemas.get('readings')!;
    const decoded = decodeLine(schema, JSON.stringify({ reading_id: 'r1', read_at: '2026-10-25 02:30:00', meter_id: 'm1' }), { source: 't', offset: 0 });
    expect(decoded.ok && decoded.event.read_at).toBe(Date.parse('2026-10-25T00:30:00Z'));
  });
});
