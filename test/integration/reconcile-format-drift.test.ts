import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { readStreamQuarantine } from '../../reconcile/realtime-input.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { deadLetterToJson } from '../../schemas/decode.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A producer renamed `userId` to `user_id` mid-day. The stream ran under the day's definitions and
// dead-lettered every renamed event ("userId: is required; the event has "user_id" ..."); the user then
// added `"aliases": {"userId": ["user_id"]}` (no new definition version: no accepted event changes) and
// archived the file again, which now keeps them. Reconcile of the stream's rows against that archive
// called the cells they fell in `unexplained` (measured: 3 of 3), although the stream's dead letters
// name every one: they were read only for `future_timestamp`.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const defs = (aliases?: Record<string, string[]>) => parseDefinitions({
  schemas: { clicks: { time: 'ts', id: 'event_id', key: 'userId', fields: { event_id: 'string', ts: 'timestamp', userId: 'string', url: 'string' }, ...(aliases ? { aliases } : {}) } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { clicks: 'count', users: ['count_distinct', 'userId'] }, max_out_of_orderness: '1s', allowed_lateness: 0 } },
}, 'drift.json').pipeline('per_url');
const T = Date.UTC(2026, 11, 1, 8);
const lines = [
  ...[0, 1, 2, 3].map((i) => JSON.stringify({ event_id: `e${i}`, ts: T + i * 1000, userId: `u${i}`, url: i % 2 ? '/a' : '/b' })),
  ...[4, 5, 6].map((i) => JSON.stringify({ event_id: `e${i}`, ts: T + i * 1000, user_id: `u${i}`, url: '/a' })),
  JSON.stringify({ event_id: 'e7', ts: T + 70_000, userId: 'u7', url: '/a' }),
];

describe('reconcile after a producer renamed a field and the definitions took the new name', () => {
  it('the cells the stream\'s dead letters account for are parse_reject, naming the events', async () => {
    const before = defs(), after = defs({ userId: ['user_id'] });
    expect(definitionVersion(after)).toBe(definitionVersion(before));
    const streamed = await streamLines(before, lines);
    expect(streamed.deadLetters.map((d) => d.offset)).toEqual([4, 5, 6]);
    const dlq = join(ws.dir, 'dlq.jsonl');
    await writeFile(dlq, streamed.deadLetters.map((d) => `${JSON.stringify(deadLetterToJson(d, 'clicks'))}\n`).join(''));
    const dir = join(ws.dir, 'archive');
    await new ParquetArchive(dir, after.schema).write(memoryBatches('file:input.jsonl', lines, 1000));

    const without = await reconcile({ def: after, realtime: streamed.changelog, archiveDir: dir });
    expect(without.causes).toMatchObject({ unexplained: 1, parse_reject: 0 });
    const quarantined = await readStreamQuarantine(after, dlq);
    const report = await reconcile({ def: after, realtime: streamed.changelog, archiveDir: dir, quarantined });
    expect(report).toMatchObject({ different: 1, unexplained: 0, causes: { parse_reject: 1, future_timestamp: 0 } });
    expect(report.differences.map((d) => [d.cell.url, d.realtime?.clicks, d.replay?.clicks, d.late_events.map((e) => [e.id, e.offset])]))
      .toEqual([['/a', 2, 5, [['e4', 4], ['e5', 5], ['e6', 6]]]]);
  });
});
