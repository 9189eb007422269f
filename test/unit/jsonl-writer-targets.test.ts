import { execFileSync } from 'node:child_process';
import { createReadStream, lstatSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlWriter } from '../../stream/sinks/jsonl-writer.ts';

// A writer renames its `.tmp` over the path on close: right for a file, wrong for what is no file to
// replace. `--output /dev/null` replaced the device node with a regular file; a link became a file.
describe('JsonlWriter: what the path names is kept', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'concord-jsonl-targets-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('a link: the file it points to gets the lines, the link stays a link', async () => {
    const real = join(dir, 'real.jsonl');
    writeFileSync(real, 'old\n');
    const link = join(dir, 'link.jsonl');
    symlinkSync(real, link);
    const w = new JsonlWriter(link);
    w.write({ a: 1 });
    await w.close();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(real);
    expect(readFileSync(real, 'utf8')).toBe('{"a":1}\n');
  });

  it('a named pipe: written in place (a reader gets the lines), still a pipe afterwards', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const chunks: Buffer[] = [];
    const reader = createReadStream(fifo);
    reader.on('data', (c) => chunks.push(c as Buffer));
    const ended = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    const w = new JsonlWriter(fifo);
    w.write({ n: 1 });
    w.write({ n: 2 });
    await w.close();
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    await ended;
    expect(Buffer.concat(chunks).toString('utf8')).toBe('{"n":1}\n{"n":2}\n');
  });

  it('/dev/null: written in place, still the character device', async () => {
    const before = statSync('/dev/null');
    const w = new JsonlWriter('/dev/null');
    w.write({ a: 1 });
    await w.close();
    const after = lstatSync('/dev/null');
    expect(after.isCharacterDevice()).toBe(true);
    expect(after.rdev).toBe(before.rdev);
  });
});
