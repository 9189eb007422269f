import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { ArchiveError } from '../../pipeline/errors.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A file where the archive needs a folder (an hour's, a day's) failed a flush with the raw
// `EEXIST: file already exists, mkdir '.../hour=00'` (ENOTDIR for a day's): now it says which file is in
// the way and what to do; once the file is moved away, the same write succeeds.
const ws = tempWorkspace('concord-archive-folder-');
afterAll(() => ws.cleanup());

const schema = parseDefinitions({
  schemas: { s: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', site: 'string' } } },
  pipelines: { per_site: { input: 's', key: 'site', window: { tumbling: '1m' }, max_out_of_orderness: 0, allowed_lateness: 0, aggregates: { n: 'count' } } },
}, 'x').pipeline('per_site').schema;
const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `e${i}`, ts: i * 4_000, site: 'a' }));

describe('archive: a file where a folder should be', () => {
  for (const [what, blocked] of [['an hour folder', join('s', 'dt=1970-01-01', 'hour=00')], ['a day folder', join('s', 'dt=1970-01-01')]] as const) {
    it(`${what}: says which file is in the way and to move it; writes once it is moved`, async () => {
      const dir = join(ws.dir, what.replaceAll(' ', '-'));
      const file = join(dir, blocked);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, 'not a folder');
      const archive = new ParquetArchive(dir, schema);
      const error = await archive.write(memoryBatches('file:s.jsonl', lines, 100)).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ArchiveError);
      expect((error as Error).message).toBe(`${file} is a file where the archive needs a folder: move it out of the archive directory (it is not read as archive data), then run again`);
      renameSync(file, join(ws.dir, `${what.replaceAll(' ', '-')}-moved`));
      expect((await archive.write(memoryBatches('file:s.jsonl', lines, 100))).events).toBe(10);
    });
  }
});
