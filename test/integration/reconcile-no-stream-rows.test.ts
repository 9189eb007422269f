import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { concord, concordOk } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A day of a pipeline without stream rows, when the store already tells why: `reconcile --date` replayed
// the whole day from the archive first and only then refused, advising to "stream it", which does not
// fit a pipeline added to the definitions later (backfill computes such a day) nor a day the stream has
// not reached. It now refuses before the replay, with advice for the case.
const ws = tempWorkspace('concord-reconcile-no-stream-');
afterAll(() => ws.cleanup());

const P = pageViewsPerMinute.name;
const M = 60_000;
const DAY1 = '2026-11-23', DAY2 = '2026-11-24';
const T1 = Date.UTC(2026, 10, 23, 10), T2 = Date.UTC(2026, 10, 24, 10);
const clicks = (t0: number, tag: string) => [0, 1, 2, 20].map((m) => JSON.stringify({ event_id: `${tag}${m}`, ts: t0 + m * M, url: '/a', visitor_id: `v${m}` }));
const timing = ['--max-out-of-orderness', '1s', '--allowed-lateness', '0s'];

async function streamedAndArchived(streamed: string[], archived: string[]): Promise<{ store: string; archiveDir: string }> {
  const store = `duckdb:${join(ws.dir, `${Math.random().toString(36).slice(2)}.duckdb`)}`;
  const input = join(ws.dir, `stream-${Math.random().toString(36).slice(2)}.jsonl`);
  const all = join(ws.dir, `archive-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(input, streamed.join('\n') + '\n');
  await writeFile(all, archived.join('\n') + '\n');
  expect(concord(['stream', '--pipeline', P, '--input', input, '--output', `${input}.out`, '--store', store, ...timing]).code).toBe(0);
  const archiveDir = join(ws.dir, `archive-${Math.random().toString(36).slice(2)}`);
  expect(concord(['archive', '--schema', 'clicks', '--input', all, '--dir', archiveDir]).code).toBe(0);
  return { store, archiveDir };
}

const reconcile = (store: string, archiveDir: string, date: string) =>
  concord(['reconcile', '--date', date, '--archive', archiveDir, '--store', store, '--pipeline', P, '--report-dir', `${store.slice('duckdb:'.length)}.reports`, ...timing]);

describe('reconcile --date of a day the stream read and kept no row of', () => {
  // Its filter dropped every event of the day, and it has rows of the next: the store's first day with
  // stream rows was the next, and the day was refused as "a pipeline added to the definitions after" it.
  // The stream's start (the first W the store held, store/stream-starts.ts) says it read the day.
  it('is reconciled as any day (the replay keeps nothing either): a day file streamed each day', async () => {
    const seed = JSON.parse(await readFile(new URL('../../examples/seed.definitions.json', import.meta.url), 'utf8')) as { schemas: Record<string, unknown> };
    const defs = join(ws.dir, 'only-a.json');
    await writeFile(defs, JSON.stringify({
      schemas: { clicks: seed.schemas.clicks },
      pipelines: { views_of_a: { input: 'clicks', where: [['url', '=', '/a']], key: ['url'], window: { tumbling: '1m' }, aggregates: { views: 'count' } } },
    }));
    const day1 = clicks(T1, 'd1-').map((l) => l.replace('"url":"/a"', '"url":"/b"'));
    const day2 = clicks(T2, 'd2-');
    // (One run over both days whose first batch, 8192 lines, reaches past the first day stores its first W
    // there: known to that precision, the day counts as before the stream, as it did.)
    for (const runs of [[day1, day2]]) {
      const name = Math.random().toString(36).slice(2);
      const store = `duckdb:${join(ws.dir, `${name}.duckdb`)}`;
      for (const [i, lines] of runs.entries()) {
        const input = join(ws.dir, `${name}-${i}.jsonl`);
        await writeFile(input, lines.join('\n') + '\n');
        concordOk(['stream', '--definitions', defs, '--pipeline', 'views_of_a', '--input', input, '--output', `${input}.out`, '--store', store, ...timing]);
      }
      const all = join(ws.dir, `${name}-all.jsonl`);
      await writeFile(all, [...day1, ...day2].join('\n') + '\n');
      const archiveDir = join(ws.dir, `${name}-archive`);
      concordOk(['archive', '--definitions', defs, '--schema', 'clicks', '--input', all, '--dir', archiveDir]);
      const args = (date: string) => ['reconcile', '--definitions', defs, '--date', date, '--archive', archiveDir, '--store', store, '--pipeline', 'views_of_a', '--report-dir', join(ws.dir, `${name}-reports`), ...timing];
      const r = concord(args(DAY1));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`views_of_a ${DAY1}: version 1 live (was 0), 0 cells corrected`);
      expect(r.stdout).toContain("| views_of_a | reconciled | 1 | 0 |");
      expect(concord(args(DAY2)).code).toBe(0);
    }
  }, 240_000);
});

describe('reconcile --date of a day without stream rows, refused before the replay', () => {
  it('a pipeline whose stream started on a later day (added to the definitions then): backfill is the advice', async () => {
    const { store, archiveDir } = await streamedAndArchived(clicks(T2, 'd2-'), [...clicks(T1, 'd1-'), ...clicks(T2, 'd2-')]);
    const r = reconcile(store, archiveDir, DAY1);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`no realtime rows for ${P} on ${DAY1}: the stream's first rows of ${P} are of ${DAY2} (a pipeline added to the definitions after ${DAY1})`);
    expect(r.stderr).toContain(`concord backfill --from ${DAY1} --to ${DAY1} --pipeline ${P} --archive ${archiveDir}`);
    expect(r.stderr).not.toContain('stream it');
    // Refused before the replay: its progress line never came.
    expect(r.stderr).not.toContain('replaying the day from the archive');
    // The day the stream wrote is reconciled as before.
    expect(reconcile(store, archiveDir, DAY2).code).toBe(0);
  }, 120_000);

  it('a day the stream has not reached yet: said so, with its watermark, before the replay', async () => {
    const { store, archiveDir } = await streamedAndArchived(clicks(T1, 'd1-'), [...clicks(T1, 'd1-'), ...clicks(T2, 'd2-')]);
    const r = reconcile(store, archiveDir, DAY2);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`no realtime rows for ${P} on ${DAY2}: the stream has not reached ${DAY2} yet (its watermark of ${P} is at 2026-11-23T`);
    expect(r.stderr).toContain(`concord backfill --from ${DAY2} --to ${DAY2} --pipeline ${P}`);
    expect(r.stderr).not.toContain('replaying the day from the archive');
    // Nothing is published, so no note of what the (unpublished) version holds.
    expect(r.stderr).not.toContain('this version holds what is archived now');
  }, 120_000);
});
