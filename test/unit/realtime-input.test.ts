import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { checkRealtimeVersion, readLateLog, readResultsFile } from '../../reconcile/realtime-input.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The realtime inputs of `concord reconcile` (--realtime, --late) are the user's files: a line that is
// not JSON is the user's error, named by file and line, never a bare SyntaxError.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());

const late = {
  pipeline: 'page_views_per_minute', event: { event_id: 'c1', ts: '2026-11-23T10:00:01.000Z', url: '/a', visitor_id: 'v1' },
  watermark: '2026-11-23T10:10:00.000Z', window_start: '2026-11-23T10:00:00.000Z', window_end: '2026-11-23T10:01:00.000Z',
  source: 'clicks:0', offset: 7,
};
const result = {
  pipeline: 'page_views_per_minute', window_start: '2026-11-23T10:00:00.000Z', window_end: '2026-11-23T10:01:00.000Z',
  url: '/a', views: 3, revision: 0, watermark: '2026-11-23T10:01:30.000Z', definition_version: 'v',
};

describe('reading the realtime inputs of reconcile', () => {
  it('reads late events and results, skipping blank lines', async () => {
    const logged = await readLateLog(pageViewsPerMinute, ws.file('late.jsonl', [late, '', late]));
    expect(logged.map((l) => [l.record.position, l.record.event.event_id])).toEqual([[{ source: 'clicks:0', offset: 7 }, 'c1'], [{ source: 'clicks:0', offset: 7 }, 'c1']]);
    const results = await readResultsFile(pageViewsPerMinute, ws.file('results.jsonl', [result]));
    expect(results).toMatchObject([{ kind: 'window', key: { url: '/a' }, values: { views: 3 } }]);
  });

  it('a line that is not JSON is a user error naming the file and the line, in either file', async () => {
    const badLate = ws.file('bad-late.jsonl', [late, '{"pipeline": "page_views_per']);
    await expect(readLateLog(pageViewsPerMinute, badLate)).rejects.toThrow(ConfigError);
    await expect(readLateLog(pageViewsPerMinute, badLate)).rejects.toThrow(`late events ${badLate} line 2 is not JSON`);
    const badResults = ws.file('bad-results.jsonl', ['not json', result]);
    await expect(readResultsFile(pageViewsPerMinute, badResults)).rejects.toThrow(`realtime results ${badResults} line 1 is not JSON`);
    await expect(readLateLog(pageViewsPerMinute, ws.file('missing.jsonl'))).rejects.toThrow(/cannot read late events .*missing\.jsonl: check the path/);
    // What `concord stream --late-output` writes (no delivery position) is not a worker's late log: said so.
    const { source: _s, offset: _o, ...fromStream } = late;
    await expect(readLateLog(pageViewsPerMinute, ws.file('stream-late.jsonl', [fromStream])))
      .rejects.toThrow(/line 1: no source\/offset, so not a worker's late log .* for `concord stream` over a file, drop --late/);
  });

  it('a results file holding only other pipelines\' rows is the wrong file, not a day of missing windows', async () => {
    const other = { ...result, pipeline: 'unique_visitors_5m' };
    const path = ws.file('others.jsonl', [other, other]);
    await expect(readResultsFile(pageViewsPerMinute, path)).rejects.toThrow(ConfigError);
    await expect(readResultsFile(pageViewsPerMinute, path)).rejects.toThrow(`realtime results ${path} hold no row of pipeline page_views_per_minute, only of unique_visitors_5m`);
    // An empty output is a stream that emitted nothing (every replayed window then missing): read as such.
    expect(await readResultsFile(pageViewsPerMinute, ws.file('empty.jsonl', []))).toEqual([]);
  });

  it('rows of another definition version (another definition, or other B / L) are refused, naming both versions', async () => {
    const streamed = withTiming(pageViewsPerMinute, { allowedLateness: 0 });
    const path = ws.file('other-version.jsonl', [{ ...result, definition_version: definitionVersion(streamed) }, '', { ...result, url: '/b', definition_version: definitionVersion(streamed) }]);
    const rows = await readResultsFile(pageViewsPerMinute, path);
    expect(() => checkRealtimeVersion(streamed, rows, path)).not.toThrow();
    expect(() => checkRealtimeVersion(pageViewsPerMinute, rows, path)).toThrow(ConfigError);
    expect(() => checkRealtimeVersion(pageViewsPerMinute, rows, path)).toThrow(
      `realtime results ${path}: computed by definition version ${definitionVersion(streamed)} (2 of 2 rows) of page_views_per_minute, ` +
        `but these definitions give ${definitionVersion(pageViewsPerMinute)} (B = 30s, L = 5m)`,
    );
    // Rows without a version (hand-written) are taken as this definition's.
    const { definition_version: _v, ...bare } = result;
    const unversioned = await readResultsFile(pageViewsPerMinute, ws.file('unversioned.jsonl', [bare]));
    expect(() => checkRealtimeVersion(pageViewsPerMinute, unversioned, path)).not.toThrow();
  });
});
