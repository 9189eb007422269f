import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { checkDefinition } from '../../pipeline/definition.ts';
import { hopping } from '../../pipeline/windows.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import type { LineBatch } from '../../sources/source.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { statementsDuring } from '../fixtures/duckdb-statements.ts';

// The gap check of a day's reconcile read every offset of the archive (a bitmap over each source's whole
// span, and every file's footer): over 30 days, 1.8 s of a 2.9 s reconcile. Now it reads the files its
// ledger of offsets lacks (batch/archive-offsets.ts): the night after, those of the day archived since.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const DAY = 86_400_000, T0 = Date.UTC(2026, 10, 20);
const def = pageViewsPerMinute;
const hoppingViews = checkDefinition({ ...pageViewsPerMinute, name: 'page_views_2m_every_1m', window: hopping(120_000, 60_000) });

/** Day `d` of source `p` as the archiver appends it: 48 clicks, one every 30 minutes, offsets running on from the day before; `lost` not archived. */
function append(dir: string, d: number, p: number, lost = -1): Promise<unknown> {
  const offsets = Array.from({ length: 48 }, (_, i) => d * 48 + i).filter((o) => o !== lost);
  const lines = offsets.map((o, i) => JSON.stringify({ event_id: `e${p}-${o}`, ts: T0 + d * DAY + (o - d * 48) * 1_800_000, url: '/a', visitor_id: 'v' }));
  const batch: LineBatch = { source: `clicks:${p}`, firstOffset: offsets[0]!, lines, offsets };
  return new ParquetArchive(dir, def.schema).write((async function* () { yield batch; })(), { mode: 'append', stem: `clicks_${p}-${offsets[0]}-${offsets.at(-1)}` });
}

/** The day folders a statement names. */
const daysNamed = (sql: string) => [...new Set([...sql.matchAll(/dt=(\d{4}-\d{2}-\d{2})/g)].map((m) => m[1]))];

describe('a day\'s gap check reads the day archived since the last reconcile, its replay and judgement the day\'s hours', () => {
  it('over 5 days, the night after day 3\'s reconcile', async () => {
    const dir = join(ws.dir, 'archive');
    for (let d = 0; d < 4; d++) for (const p of [0, 1]) await append(dir, d, p);
    const day = (d: number) => ({ from: T0 + d * DAY, to: T0 + (d + 1) * DAY });
    await reconcile({ def, realtime: [], archiveDir: dir, range: day(3) });
    // Day 4's offset 200 of source 1 is lost: counted, from the ledger's runs and the day's files.
    for (const p of [0, 1]) await append(dir, 4, p, p === 1 ? 200 : -1);
    const statements = await statementsDuring(async () => expect((await reconcile({ def, realtime: [], archiveDir: dir, range: day(4) })).evidence.archive_gaps).toBe(1));
    const gapReads = statements.filter((s) => s.includes('row_number() OVER (PARTITION BY g, _source ORDER BY _offset)'));
    expect(gapReads).toHaveLength(1);
    expect(daysNamed(gapReads[0]!)).toEqual(['2026-11-24']);
    expect(statements.some((s) => /bitstring_agg|parquet_metadata/.test(s))).toBe(false);
    // The replay of the day's windows opens the files of the day's hours, not every file of the archive.
    const replays = statements.filter((s) => s.includes('TEMP TABLE replay_cells'));
    expect(replays).toHaveLength(1);
    expect(replays[0]).not.toContain('dt=*');
    expect(daysNamed(replays[0]!)).toEqual(['2026-11-24']);

    // Hopping windows with the workers' late log: the windows that skipped an event are judged from the
    // day's hours on (per partition W over the archive's offsets), not over every file.
    const judging = (await statementsDuring(() => reconcile({ def: hoppingViews, realtime: [], archiveDir: dir, range: day(4), lateLog: [] })))
      .filter((s) => s.includes('ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING'));
    expect(judging).toHaveLength(1);
    expect(judging[0]).not.toContain('dt=*');
    expect(daysNamed(judging[0]!)).toEqual(['2026-11-24']);
  });
});
