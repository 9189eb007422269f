import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readJsonlFile } from '../../sources/jsonl-file.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('readJsonlFile over a pipe (a live feed)', () => {
  it('hands over the lines it has read without waiting for a full batch or the end', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concord-pipe-'));
    const fifo = join(dir, 'events.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const batches = readJsonlFile(fifo, { batchLines: 8192 });
    const first = batches.next(); // opens the reading end
    const writer = await open(fifo, 'w'); // async: a blocking open would stall the reader's own open
    try {
      await writer.write('{"a":1}\n{"a":2}\n');
      const got = await Promise.race([first, new Promise<'held'>((r) => setTimeout(() => r('held'), 2000))]);
      expect(got).not.toBe('held');
      expect(got !== 'held' && !got.done && got.value.lines).toEqual(['{"a":1}', '{"a":2}']);
    } finally {
      await writer.close();
    }
    const rest = await batches.next();
    expect(rest.done).toBe(true);
  });
});
