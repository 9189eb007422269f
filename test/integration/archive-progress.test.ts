import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { clicksSchema } from '../../examples/seed.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';

// `archive --input` said how many events it had staged, then wrote the hours' Parquet files without a
// word: 8 s after the last progress line for 5M clicks, a minute or more for a bigger day. The write now
// reports each file written of the files to write, after the input is staged, and the command prints it.
const T0 = Date.parse('2026-11-23T00:00:00Z');
const lines = Array.from({ length: 3_000 }, (_, i) => JSON.stringify({ event_id: `e${i}`, ts: T0 + i * 3_000, url: `/p${i % 7}`, visitor_id: `v${i}` }));
let dir = '';
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('archive progress', () => {
  it('reports the files it writes once the input is staged', async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-archive-progress-'));
    const calls: string[] = [];
    const stats = await new ParquetArchive(dir, clicksSchema).write(memoryBatches('file:clicks.jsonl', lines, 1_000), {
      onProgress: (events) => calls.push(`staged ${events}`),
      onFiles: (written, files) => calls.push(`files ${written}/${files}`),
    });
    expect(stats.files).toHaveLength(3); // 3,000 events 3 s apart: 2.5 hours
    expect(calls).toEqual(['staged 1000', 'staged 2000', 'staged 3000', 'files 0/3', 'files 1/3', 'files 2/3', 'files 3/3']);
  });
});
