import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempWorkspace } from '../fixtures/workspace.ts';

// replay, reconcile, report... had no stop handler: Ctrl-C or SIGTERM killed Node at once and left
// `<output>.tmp` beside the output (seen: `replay --output out.jsonl` stopped mid-write). Every command
// now gets the CLI's own: it removes the unfinished files, says so and exits 130 / 143.
const ws = tempWorkspace('concord-unfinished-stop-');
afterAll(() => ws.cleanup());
const fixture = fileURLToPath(new URL('../fixtures/unfinished-output-process.ts', import.meta.url));

describe('a command without its own stop handler, stopped while an output is unfinished', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: exit ${code}, says so, and the output's .tmp is gone`, async () => {
      const dir = join(ws.dir, signal);
      const output = join(dir, 'out.jsonl');
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, output], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      for (let t = Date.now(); !stdout.includes('ready') && Date.now() - t < 30_000;) await new Promise((r) => setTimeout(r, 50));
      await expect.poll(() => existsSync(`${output}.tmp`)).toBe(true); // opened asynchronously
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(stderr).toBe(`concord replay: ${signal}: stopped; 1 unfinished output file(s) removed (run it again)\n`);
      expect(readdirSync(dir)).toEqual([]);
    }, 60_000);
  }
});
