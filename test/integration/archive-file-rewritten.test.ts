import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readArrivalOrder } from '../../batch/archive-reader.ts';
import { archiveInputFile } from '../../batch/file-archive.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A file archived again that is not the archived one grown (a line edited, the file truncated or rotated
// under its name, a last line that was being written and went on) is refused, saying what to do: its
// new lines would sit under the old lines' offsets. --replace archives it whole, as every rerun did.
const ws = tempWorkspace('concord-rewritten-');
afterAll(() => ws.cleanup());
const schema = parseDefinitions({
  schemas: { clicks: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp' } } },
  pipelines: { n: { input: 'clicks', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
}, 'x').schema('clicks');
const T0 = Date.UTC(2026, 10, 23, 10);
const line = (id: string, minute: number) => JSON.stringify({ id, ts: T0 + minute * 60_000 });
let n = 0;
const setUp = (text: string) => {
  const dir = join(ws.dir, `a${n}`);
  const input = join(ws.dir, `day${n++}.jsonl`);
  writeFileSync(input, text);
  const archive = (replace = false) => archiveInputFile(new ParquetArchive(dir, schema), dir, schema, input, { replace });
  const ids = async () => (await readArrivalOrder(dir, schema)).map((e) => `${String(e.event.id)}@${e.position.offset}`);
  return { dir, input, archive, ids };
};

describe('archive: a file rewritten since it was archived', () => {
  const cases: [string, (input: string) => void, RegExp][] = [
    ['a line edited', (input) => writeFileSync(input, `${line('a', 0)}\n${line('B', 1)}\n${line('c', 2)}\n`), /first \d+ bytes \(the 2 lines archived\) are not what was archived/],
    ['truncated', (input) => writeFileSync(input, `${line('a', 0)}\n`), /truncated, or a new file of the same name/],
  ];
  for (const [name, rewrite, reason] of cases) {
    it(`${name}: refused, naming --replace; --replace archives it whole`, async () => {
      const f = setUp(`${line('a', 0)}\n${line('b', 1)}\n`);
      await f.archive();
      rewrite(f.input);
      const refused = await f.archive().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConfigError);
      expect((refused as Error).message).toMatch(reason);
      expect((refused as Error).message).toContain('run again with --replace');
      expect(await f.ids()).toEqual(['a@0', 'b@1']);
      expect((await f.archive(true)).kind).toBe('whole');
      expect(await f.ids()).toEqual(name === 'truncated' ? ['a@0'] : ['a@0', 'B@1', 'c@2']);
    });
  }

  it('a file of it gone from the archive (moved to _corrupt/) makes the next archiving whole, restoring its events', async () => {
    const f = setUp(`${line('a', 0)}\n${line('b', 90)}\n`);
    await f.archive();
    const [gone] = await listArchiveFiles(f.dir, schema);
    renameSync(gone!, join(ws.dir, `gone${n}.parquet`));
    expect(await f.ids()).toEqual(['b@1']);
    expect((await f.archive()).kind).toBe('whole');
    expect(await f.ids()).toEqual(['a@0', 'b@1']);
  });

  it('archived again under other definitions of its schema (a field added): whole, its rows in the new shape', async () => {
    const f = setUp(`${JSON.stringify({ id: 'a', ts: T0, note: 'x' })}\n`);
    await f.archive();
    const wider = parseDefinitions({
      schemas: { clicks: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', note: 'string?' } } },
      pipelines: { n: { input: 'clicks', key: [], window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
    }, 'x').schema('clicks');
    const again = await archiveInputFile(new ParquetArchive(f.dir, wider), f.dir, wider, f.input);
    expect(again.kind).toBe('whole');
    expect((await readArrivalOrder(f.dir, wider)).map((e) => e.event.note)).toEqual(['x']);
  });

  it('a last line archived without its newline that went on is refused; one the writer ended is archived once', async () => {
    const f = setUp(`${line('a', 0)}\n${line('b', 1)}`);
    await f.archive();
    appendFileSync(f.input, `\n${line('c', 2)}\n`);
    expect((await f.archive()).kind).toBe('appended');
    expect(await f.ids()).toEqual(['a@0', 'b@1', 'c@2']);
    const g = setUp(`${line('a', 0)}\n{"id":"b","ts"`);
    await g.archive();
    appendFileSync(g.input, `:${T0}}\n`);
    await expect(g.archive()).rejects.toThrow(/line 1 was archived without a newline at its end \(being written then\) and is longer now/);
  });
});
