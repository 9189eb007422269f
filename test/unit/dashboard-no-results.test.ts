import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { noResults } from '../../serve/dashboard/live-view.js';

// A pipeline added to the definitions later and backfilled into old days (`backfill --from/--to`), with no
// stream: its live card said "no results of this pipeline in the store yet" beside the store's rows of it.
describe('the live card of a pipeline without a stream row', () => {
  const windowed = { kind: 'windowed' };

  it('backfilled days and no stream: says where its results are', () => {
    expect(noResults(windowed, { watermark: null, rows: 24 })).toBe('no stream wrote this pipeline: its 24 results are of days a backfill recomputed (the Day view shows them)');
  });

  it('nothing at all: no results yet; a stream that wrote none: its watermark', () => {
    expect(noResults(windowed, { watermark: null, rows: 0 })).toBe('no results of this pipeline in the store yet');
    expect(noResults(windowed, undefined)).toBe('no results of this pipeline in the store yet');
    expect(noResults({ kind: 'rule' }, { watermark: '2026-11-23T10:00:00.000Z', rows: 0 })).toBe('no alert: the stream reached 2026-11-23 10:00Z (its watermark) and the rule raised none');
  });
});
