import { copyFileSync, existsSync, lstatSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import type { ResultRecord } from '../../schemas/results.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Replay and reconcile read the archive through one recovery (batch/archive-recovery.ts): files that are
// not this schema's data are moved out by name and the read runs again, in whichever reader meets them first.
const ws = tempWorkspace('concord-archive-recovery-');
afterAll(() => ws.cleanup());

const timing = { max_out_of_orderness: 0, allowed_lateness: 0 };
const defs = parseDefinitions({
  schemas: {
    s: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', site: 'string' } },
    other: { time: 'at', id: 'ref', fields: { ref: 'string', at: 'timestamp', amount: 'int' } },
  },
  pipelines: {
    per_site: { input: 's', key: 'site', window: { tumbling: '1m' }, ...timing, aggregates: { n: 'count' } },
    burst: { input: 's', key: 'site', rule: { within: '1m', count: true, more_than: 3, output: 'n' }, ...timing },
    amounts: { input: 'other', key: [], window: { tumbling: '1m' }, ...timing, aggregates: { n: 'count' } },
  },
}, 'x');
const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: `e${String(i).padStart(2, '0')}`, ts: i * 4_000, site: i % 3 ? 'a' : 'b' }));
/** Where a Parquet file's footer begins: its length is the 4 bytes before the closing magic bytes. */
const footerStart = (bytes: Buffer) => bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
const parquet = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet') && !f.includes('_corrupt')).map((f) => join(dir, f));

/** What a row says, without the watermark it was emitted under (replay has none). */
const cells = (rows: readonly ResultRecord[]) => rows.map((r) => (r.kind === 'alert' ? [r.key, r.id, r.ts, r.value] : [r.windowStart, r.key, r.values])).map((c) => JSON.stringify(c)).sort();

async function archiveWithForeignFile(name: string): Promise<{ dir: string; foreign: string }> {
  const dir = join(ws.dir, name), otherDir = join(ws.dir, `${name}-other`);
  await new ParquetArchive(dir, defs.pipeline('per_site').schema).write(memoryBatches('file:s.jsonl', lines, 1000));
  const others = Array.from({ length: 5 }, (_, i) => JSON.stringify({ ref: `r${i}`, at: i * 1_000, amount: i }));
  await new ParquetArchive(otherDir, defs.pipeline('amounts').schema).write(memoryBatches('file:o.jsonl', others, 1000));
  // Another schema's file in this schema's hour: its magic bytes are fine, only its columns say whose it is.
  const [mine] = parquet(join(dir, 's'));
  const foreign = join(mine!, '..', 'foreign-0-4.parquet');
  copyFileSync(parquet(join(otherDir, 'other'))[0]!, foreign);
  return { dir, foreign };
}

describe('archive reads recover alike in replay and reconcile', () => {
  for (const p of ['per_site', 'burst']) {
    it(`${p}: reconcile meeting another schema's file first moves it out and explains every cell`, async () => {
      const def = defs.pipeline(p);
      const { dir, foreign } = await archiveWithForeignFile(`foreign-${p}`);
      const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        const streamed = await streamLines(def, lines);
        // Before: reconcile took the foreign file's missing columns for a field added later and failed.
        const report = await reconcile({ def, realtime: streamed.changelog, archiveDir: dir });
        expect({ unexplained: report.unexplained, different: report.different }).toEqual({ unexplained: 0, different: 0 });
        expect(existsSync(foreign)).toBe(false);
        expect(warned.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/foreign-0-4\.parquet is not read: not an archive file of schema s: no column/)]);
        expect(cells(await replay(def, dir, { exactDistinct: false }))).toEqual(cells(streamed.final));
      } finally {
        warned.mockRestore();
      }
    });
  }

  it('every file corrupt: replay reads nothing, reconcile of realtime rows says no archive is left to read', async () => {
    const def = defs.pipeline('per_site');
    const dir = join(ws.dir, 'all-corrupt');
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:s.jsonl', lines, 1000));
    for (const f of parquet(join(dir, 's'))) writeFileSync(f, 'not parquet\n');
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const streamed = await streamLines(def, lines);
      await expect(reconcile({ def, realtime: streamed.changelog, archiveDir: dir })).rejects.toThrow(/no archive to read: .* holds no Parquet file of schema s/);
      expect(await replay(def, dir)).toEqual([]);
      expect(warned).toHaveBeenCalledWith(expect.stringMatching(/is not read: no Parquet magic bytes at the start/), 'CorruptArchiveFile');
    } finally {
      warned.mockRestore();
    }
  });

  // DuckDB's glob reads through symbolic links, the archive's own listing did not: a link to a file that
  // is no Parquet (here outside the archive) was read, failed the replay with a stack, and was never moved
  // out; a link to nothing the same. The links go to _corrupt/, what they point at is left alone.
  it('symbolic links in the archive: links to no Parquet are moved out (their targets untouched), a folder link loop is walked once', async () => {
    const def = defs.pipeline('per_site');
    const dir = join(ws.dir, 'links');
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:s.jsonl', lines, 1000));
    const [mine] = parquet(join(dir, 's'));
    const outside = join(ws.dir, 'outside.txt');
    writeFileSync(outside, 'business data, not Parquet\n');
    symlinkSync(outside, join(mine!, '..', 'zz-outside.parquet'));
    symlinkSync(join(ws.dir, 'nothing-here'), join(mine!, '..', 'zz-dangling.parquet'));
    symlinkSync(join(dir, 's'), join(dir, 's', 'loop')); // a folder link back to the schema's folder
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const streamed = await streamLines(def, lines);
      expect(cells(await replay(def, dir, { exactDistinct: false }))).toEqual(cells(streamed.final));
      expect(warned.mock.calls.map((c) => String(c[0])).sort()).toEqual([
        expect.stringMatching(/zz-dangling\.parquet is not read: cannot be read \(ENOENT\)/),
        expect.stringMatching(/zz-outside\.parquet is not read: no Parquet magic bytes at the start/),
      ]);
      expect(readFileSync(outside, 'utf8')).toBe('business data, not Parquet\n');
      const moved = readdirSync(join(dir, 's', '_corrupt')).filter((f) => f.endsWith('.parquet'));
      expect(moved.sort()).toEqual([expect.stringMatching(/zz-dangling\.parquet$/), expect.stringMatching(/zz-outside\.parquet$/)]);
      for (const f of moved) expect(lstatSync(join(dir, 's', '_corrupt', f)).isSymbolicLink()).toBe(true);
    } finally {
      warned.mockRestore();
    }
  });

  // A file whose magic bytes and footer are intact but whose data pages are damaged (a disk or copy error
  // in the middle): the deep check read only footers, so the file stayed in the archive and every read
  // failed on DuckDB's own error ("ZSTD Decompression failure", "don't know what type"), a job for good.
  it('a file with damaged data pages (footer intact) is moved out by name and the read runs without it', async () => {
    const def = defs.pipeline('per_site');
    const dir = join(ws.dir, 'damaged-pages'), spare = join(ws.dir, 'damaged-pages-spare');
    await new ParquetArchive(dir, def.schema).write(memoryBatches('file:s.jsonl', lines, 1000));
    const files = parquet(join(dir, 's')).sort();
    const damaged = files[0]!;
    const bytes = readFileSync(damaged);
    bytes.fill(0xab, 4, footerStart(bytes)); // every data page: the magic bytes and the footer stay
    writeFileSync(damaged, bytes);
    // What the replay gives without that file: an archive of the others.
    await new ParquetArchive(spare, def.schema).write(memoryBatches('file:s.jsonl', lines, 1000));
    rmSync(parquet(join(spare, 's')).sort()[0]!);
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(cells(await replay(def, dir, { exactDistinct: false }))).toEqual(cells(await replay(def, spare, { exactDistinct: false })));
      expect(existsSync(damaged)).toBe(false);
      expect(warned.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/is not read: unreadable data: /)]);
    } finally {
      warned.mockRestore();
    }
  });
});
