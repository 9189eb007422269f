import { describe, expect, it } from 'vitest';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { whyNoStreamRows } from '../../reconcile/stream-coverage.ts';

// reconcile --date of a windowed pipeline's day without stream rows: whether its stream began after the
// day is judged by where the stream started (its first W plus B), then by its first day with rows.
const at = (iso: string) => Date.parse(iso);
const store = (o: { start: number | null; first: string | null }) => ({
  watermark: async () => at('2026-11-26T00:00:00Z'), streamStart: async () => o.start, firstStreamDay: async () => o.first,
});
const D = '2026-11-23';

describe('whyNoStreamRows: a windowed pipeline\'s day before its first rows', () => {
  it('the stream started on the day or before it: the replay decides (its filter may have kept nothing)', async () => {
    expect(await whyNoStreamRows(store({ start: at('2026-11-23T23:00:00Z'), first: '2026-11-24' }), pageViewsPerMinute, D)).toBeUndefined();
    expect(await whyNoStreamRows(store({ start: at('2026-11-20T00:00:00Z'), first: '2026-11-25' }), pageViewsPerMinute, D)).toBeUndefined();
  });

  it('the stream started after the day: added to the definitions later', async () => {
    // Its first W is 10 s before midnight, but it had read an event 20 s after (B = 30 s): the next day's.
    expect(await whyNoStreamRows(store({ start: at('2026-11-23T23:59:50Z'), first: '2026-11-24' }), pageViewsPerMinute, D)).toEqual({ kind: 'started_later', firstDay: '2026-11-24' });
    expect(await whyNoStreamRows(store({ start: at('2026-11-24T08:00:00Z'), first: '2026-11-24' }), pageViewsPerMinute, D)).toEqual({ kind: 'started_later', firstDay: '2026-11-24' });
  });

  it('no start recorded (a store written before stream_starts): the first day with rows, as before', async () => {
    expect(await whyNoStreamRows(store({ start: null, first: '2026-11-24' }), pageViewsPerMinute, D)).toEqual({ kind: 'started_later', firstDay: '2026-11-24' });
    // A start recorded after an upgrade is later than the stream's real one: its rows of the day say so.
    expect(await whyNoStreamRows(store({ start: at('2026-12-01T00:00:00Z'), first: '2026-11-20' }), pageViewsPerMinute, D)).toBeUndefined();
  });
});
