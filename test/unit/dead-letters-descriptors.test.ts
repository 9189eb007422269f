import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectedDir } from '../../batch/archive-layout.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { DeadLetters } from '../../serve/dead-letters.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Descriptors this process holds open on files under `root`. */
function openUnder(root: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(process.platform !== 'linux')('dead letters page: the files it read are closed', () => {
  it('a page that stops mid-file leaves no descriptor open (the dashboard polls it for days)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concord-dlq-'));
    const registry = seedRegistry();
    const rejected = rejectedDir(dir, registry.schema('clicks'));
    mkdirSync(rejected, { recursive: true });
    const line = (i: number) => JSON.stringify({ reason: 'not_json', source: 'kafka:clicks:0', offset: i, raw: `x${i}` });
    for (let f = 0; f < 3; f++) writeFileSync(join(rejected, `clicks_0-${f * 100}-${f * 100 + 99}.jsonl`), Array.from({ length: 100 }, (_, i) => line(f * 100 + i)).join('\n') + '\n');
    const letters = new DeadLetters(registry, dir);
    for (let i = 0; i < 20; i++) expect(await letters.page('clicks', i * 7, 10)).toHaveLength(10);
    await wait(50); // a destroyed stream closes its descriptor on the next turn
    expect(openUnder(dir)).toBe(0);
  });
});
