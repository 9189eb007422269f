import fc from 'fast-check';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionGlob, rejectedDir } from '../../batch/archive-layout.ts';
import { DuckDb, quoteString } from '../../batch/duckdb.ts';
import { archiveInputFile } from '../../batch/file-archive.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A file archived again as it grows (a log still being written, the last line sometimes without its
// newline yet) holds each of its lines once, at the offset its line number in the final file gives,
// with the ingest time of the archiving that first read it; the files written before stay as they were.
// Before, each archiving rewrote the whole file: every row in new files, which reconcile took as all
// added since the day's last reconcile (`unexplained` where a cell mixed old and new lines).
const ws = tempWorkspace('concord-grown-');
afterAll(() => ws.cleanup());
const schema = parseDefinitions({
  schemas: { clicks: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp' } } },
  pipelines: { n: { input: 'clicks', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
}, 'x').schema('clicks');
const RUNS = Math.max(10, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 10));
const T0 = Date.UTC(2026, 10, 23, 10);
let runNo = 0;

// A line: an event (its time up to three hours on: several hour files), a blank line, or a rejected one.
const lineArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 * 60 - 1 }).map((minute) => ({ minute })) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constant('not json') },
);
// Growths: the lines each one appends, and whether it stops before the last one's newline.
const growthsArb = fc.array(fc.record({ lines: fc.array(lineArb, { minLength: 1, maxLength: 8 }), unfinished: fc.boolean() }), { minLength: 1, maxLength: 5 });

describe('archive: a file archived again as it grows', () => {
  it('holds each line once, at its line number, with the ingest time of the archiving that first read it', async () => {
    await fc.assert(fc.asyncProperty(growthsArb, async (growths) => {
      const dir = join(ws.dir, `a${runNo}`);
      const input = join(ws.dir, `day${runNo++}.jsonl`);
      writeFileSync(input, '');
      let ids = 0;
      let unfinished = false;
      const prefixes: string[] = [];
      let earlier = new Map<string, { mtimeMs: number; ino: number }>();
      for (const [step, growth] of growths.entries()) {
        const text = growth.lines.map((l) => (typeof l === 'string' ? l : JSON.stringify({ id: `e${ids++}`, ts: T0 + l.minute * 60_000 }))).join('\n');
        // The writer ends the line it left unfinished before it goes on.
        appendFileSync(input, `${unfinished ? '\n' : ''}${text}${growth.unfinished ? '' : '\n'}`);
        unfinished = growth.unfinished;
        prefixes.push(readFileSync(input, 'utf8'));
        const archived = await archiveInputFile(new ParquetArchive(dir, schema), dir, schema, input, { ingestTime: (step + 1) * 1000 });
        expect(archived.kind).toBe(step === 0 ? 'whole' : prefixes[step] === prefixes[step - 1] ? 'unchanged' : 'appended');
        // The files of earlier archivings are untouched (same inode, same modification time).
        const now = await fileStamps(dir);
        for (const [file, stamp] of earlier) expect(now.get(file)).toEqual(stamp);
        earlier = now;
      }
      // Expected from the raw text alone: line i of the final file is offset i, first read by the first
      // archiving whose file already held it whole or in part.
      const lines = linesOf(prefixes.at(-1)!);
      const expected = lines.flatMap((line, offset) => {
        if (!line.startsWith('{')) return [];
        const step = prefixes.findIndex((p) => linesOf(p).length > offset);
        const e = JSON.parse(line) as { id: string; ts: number };
        return [{ id: e.id, ts: e.ts, offset, ingest: (step + 1) * 1000 }];
      });
      expect(await archivedRows(dir)).toEqual(expected);
      // Each rejected line once, in the side files of the archivings that read it.
      const rejected = (existsSync(rejectedDir(dir, schema)) ? readdirSync(rejectedDir(dir, schema)) : []).flatMap((f) => readFileSync(join(rejectedDir(dir, schema), f), 'utf8').split('\n').filter(Boolean));
      expect(rejected.length).toBe(lines.filter((l) => l === 'not json').length);
      // Archived again unchanged: nothing written.
      const again = await archiveInputFile(new ParquetArchive(dir, schema), dir, schema, input);
      expect(again.kind).toBe('unchanged');
      expect(await fileStamps(dir)).toEqual(earlier);
    }), { numRuns: RUNS });
  });
});

/** A file's lines as the reader numbers them: split at newlines, no line after a last newline. */
function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

async function fileStamps(dir: string): Promise<Map<string, { mtimeMs: number; ino: number }>> {
  return new Map((await listArchiveFiles(dir, schema)).map((f) => {
    const s = statSync(f);
    return [f, { mtimeMs: s.mtimeMs, ino: s.ino }] as const;
  }));
}

async function archivedRows(dir: string): Promise<{ id: string; ts: number; offset: number; ingest: number }[]> {
  if ((await listArchiveFiles(dir, schema)).length === 0) return [];
  const db = await DuckDb.open(':memory:', { threads: 1 });
  try {
    const rows = await db.rows(
      `SELECT id, epoch_ms(ts) AS ts, _offset, epoch_ms(_ingest_ts) AS ingest FROM read_parquet(${quoteString(partitionGlob(dir, schema))}) ORDER BY _offset`);
    return rows.map((r) => ({ id: String(r.id), ts: Number(r.ts), offset: Number(r._offset), ingest: Number(r.ingest) }));
  } finally {
    db.close();
  }
}
