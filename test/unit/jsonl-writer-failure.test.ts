import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError } from '../../pipeline/errors.ts';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';

// A writer that cannot finish its file says why (a typed error, never an unhandled 'error' event of
// its stream) and leaves no `<path>.tmp` behind; `abort` gives a file up when the run failed.
describe('JsonlWriter when the file cannot be written', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'concord-jsonl-fail-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('a directory where the file goes: close rejects with ArchiveError, the .tmp is removed, the directory kept', async () => {
    const target = join(dir, 'is-a-dir');
    mkdirSync(target);
    const w = new JsonlWriter(target);
    w.write({ a: 1 });
    await expect(w.close()).rejects.toThrow(ArchiveError);
    await expect(new JsonlWriter(target).close()).rejects.toThrow(`cannot write ${target}`);
    expect(existsSync(`${target}.tmp`)).toBe(false);
    expect(readdirSync(target)).toEqual([]);
  });

  it('a file where its directory goes: rejects with ArchiveError naming the path', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const w = new JsonlWriter(join(file, 'out.jsonl'));
    w.write({ a: 1 });
    await expect(w.flush()).rejects.toThrow(ArchiveError);
  });

  it('a .tmp that cannot be opened (a directory of that name): rejects, no uncaught stream error, the directory kept', async () => {
    const target = join(dir, 'blocked.jsonl');
    mkdirSync(`${target}.tmp`);
    const w = new JsonlWriter(target);
    w.write({ a: 1 });
    await expect(w.close()).rejects.toThrow(ArchiveError);
    expect(existsSync(`${target}.tmp`)).toBe(true);
    expect(existsSync(target)).toBe(false);
  });

  it('abort after a flush removes the .tmp and renames nothing', async () => {
    const target = join(dir, 'aborted.jsonl');
    const w = new JsonlWriter(target);
    w.write({ a: 1 });
    await w.flush();
    await expect.poll(() => existsSync(`${target}.tmp`)).toBe(true); // opened asynchronously
    await w.abort();
    expect(existsSync(`${target}.tmp`)).toBe(false);
    expect(existsSync(target)).toBe(false);
  });
});
