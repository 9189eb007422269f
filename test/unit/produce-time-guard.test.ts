import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkDayAgainstTimeGuard } from '../../cli/commands/produce.ts';
import type { EventSchema } from '../../schemas/schema.ts';

// `produce --date D` of a day the workers' time guard quarantines whole (future_timestamp, past_horizon)
// was sent and reported as sent; every worker then counted 0 events and all of them rejected.
describe('produce: the generated day against the schema\'s time guard', () => {
  const clicks = { name: 'clicks', maxFutureSkewMs: 3_600_000 } as EventSchema;
  const now = Date.parse('2026-12-05T23:05:00Z');
  afterEach(() => vi.restoreAllMocks());

  it('refuses a day wholly beyond max_future_skew, naming the reason the workers would give', () => {
    expect(() => checkDayAgainstTimeGuard(clicks, '2026-12-20', now)).toThrow(
      '--date 2026-12-20 lies more than max_future_skew (1h) ahead of now: the workers would quarantine every event (reason future_timestamp); ' +
        'give a past date (default: yesterday), or set "max_future_skew": "off" on schema clicks in the definitions');
  });

  it('refuses a day wholly behind past_horizon', () => {
    expect(() => checkDayAgainstTimeGuard({ ...clicks, pastHorizonMs: 7 * 86_400_000 }, '2026-11-23', now)).toThrow(/past_horizon \(7d|past_horizon \(168h/);
  });

  it('says when part of the day lies ahead (today), and is silent for a past day or a guard that is off', () => {
    const said: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => { said.push(String(chunk)); return true; });
    checkDayAgainstTimeGuard(clicks, '2026-12-05', Date.parse('2026-12-05T12:00:00Z'));
    expect(said).toEqual(['warn: --date 2026-12-05: events after 2026-12-05T13:00:00.000Z lie more than max_future_skew (1h) ahead of now; the workers will quarantine them (reason future_timestamp)\n']);
    said.length = 0;
    checkDayAgainstTimeGuard(clicks, '2026-12-04', now);
    checkDayAgainstTimeGuard({ name: 'clicks' } as EventSchema, '2027-06-01', now);
    expect(said).toEqual([]);
  });
});
