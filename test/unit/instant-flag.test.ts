import { describe, expect, it } from 'vitest';
import { parseInstantFlag } from '../../cli/instant-flag.ts';
import { ConfigError } from '../../pipeline/errors.ts';

describe('parseInstantFlag (--read-at)', () => {
  it('reads an instant with Z or an offset, and epoch milliseconds', () => {
    expect(parseInstantFlag('read-at', '2026-11-24T09:00:00Z')).toBe(Date.UTC(2026, 10, 24, 9));
    expect(parseInstantFlag('read-at', '2026-11-24T10:00:00+01:00')).toBe(Date.UTC(2026, 10, 24, 9));
    expect(parseInstantFlag('read-at', String(Date.UTC(2026, 10, 24, 9)))).toBe(Date.UTC(2026, 10, 24, 9));
  });

  it('refuses a time without a zone (read in the machine zone before), saying to add Z or an offset', () => {
    expect(() => parseInstantFlag('read-at', '2026-11-24 09:00:00')).toThrow(ConfigError);
    expect(() => parseInstantFlag('read-at', '2026-11-24 09:00:00')).toThrow('--read-at 2026-11-24 09:00:00: no time zone; add Z (UTC) or an offset, e.g. 2026-11-24T09:00:00Z');
  });

  it('refuses a time ending in an abbreviation (a fixed offset all year before), naming what to send', () => {
    const err = (() => { try { parseInstantFlag('read-at', '2026-07-01 10:00 EST'); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^--read-at: "2026-07-01 10:00 EST"/);
    expect((err as Error).message).toContain('America/New_York');
  });

  it('refuses text that is no time', () => {
    expect(() => parseInstantFlag('read-at', 'yesterday')).toThrow(/--read-at: "yesterday" is not an ISO-8601 timestamp/);
  });
});
