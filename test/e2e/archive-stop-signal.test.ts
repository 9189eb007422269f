import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `concord archive --input` stopped by SIGTERM or Ctrl-C left its `<dir>/.tmp/<id>/` (the staging's spill,
// Parquet files not yet renamed; the docs say it goes "when the command ends, also when it fails"):
// it had no stop handler, so Node died at the signal before any clean-up.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-archive-signal-');
afterAll(() => ws.cleanup());

const click = (i: number) => JSON.stringify({
  event_id: `e${i}`, ts: new Date(Date.UTC(2026, 10, 23, 0, 0, i % 3600)).toISOString(), url: `/p${i % 10}`, visitor_id: `v${i % 7}`,
});

describe('concord archive --input stopped by a signal', () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${signal}: exit ${code}, says so, and leaves no <dir>/.tmp behind`, async () => {
      const dir = join(ws.dir, signal);
      execFileSync('mkdir', ['-p', dir]);
      const input = join(dir, 'clicks.fifo');
      execFileSync('mkfifo', [input]); // an input that is never done: the archive waits for more lines
      const archive = join(dir, 'archive');
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'archive', '--schema', 'clicks', '--input', input, '--dir', archive],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      const fd = openSync(input, 'w'); // blocks until the archive opened it
      try {
        for (let i = 0; i < 5_000; i++) writeSync(fd, `${click(i)}\n`);
        // Its work folder exists once the staging began: the signal comes while it waits for more input.
        for (let t = Date.now(); !existsSync(join(archive, '.tmp')) && Date.now() - t < 30_000;) await new Promise((r) => setTimeout(r, 100));
        expect(readdirSync(join(archive, '.tmp'))).toHaveLength(1);
        child.kill(signal);
        for (let t = Date.now(); !stderr.includes('stopped') && Date.now() - t < 30_000;) await new Promise((r) => setTimeout(r, 100));
      } finally {
        closeSync(fd); // the read of the FIFO under way ends with its writer
      }
      expect(await exited).toBe(code);
      expect(stderr).toContain(`concord archive: ${signal}: stopped before the end of ${input}; its temporary files are removed`);
      expect(existsSync(join(archive, '.tmp'))).toBe(false);
    }, 60_000);
  }
});
