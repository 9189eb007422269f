import { spawn } from 'node:child_process';
import { existsSync, openSync, readdirSync, writeSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `concord stream` stopped by SIGTERM or Ctrl-C left its outputs' `.tmp` files beside them (a failed run
// already removed them): Node died at the signal, before any clean-up.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-stream-signal-');
afterAll(() => ws.cleanup());

/** Ten URLs a minute, minute after minute: windows fire as the watermark passes, and results pile up. */
const click = (i: number) => {
  const minute = Math.floor(i / 10);
  const at = new Date(Date.UTC(2026, 10, 23, 0, minute, i % 60)).toISOString();
  return JSON.stringify({ event_id: `e${i}`, ts: at, url: `/page/${i % 10}/${'x'.repeat(60)}`, visitor_id: `v${i % 7}` });
};

describe('concord stream stopped by a signal', () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${signal}: exit ${code}, says so, and leaves no .tmp output behind`, async () => {
      const dir = join(ws.dir, signal);
      execFileSync('mkdir', ['-p', dir]);
      const input = join(dir, 'in.fifo');
      execFileSync('mkfifo', [input]); // an input that is never done: the stream waits for more lines
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'stream', '--pipeline', 'page_views_per_minute', '--input', input,
        '--output', join(dir, 'out.jsonl'), '--late-output', join(dir, 'late.jsonl'), '--dead-letter', join(dir, 'dlq.jsonl')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      const fd = openSync(input, 'w'); // blocks until the stream opened it
      try {
        // More than a MiB of results and dead letters: the outputs' .tmp files are written before the signal.
        for (let i = 0; i < 40_000; i++) writeSync(fd, `${click(i)}\n${i % 10 === 0 ? `not json ${'y'.repeat(300)}\n` : ''}`);
        for (let t = Date.now(); readdirSync(dir).filter((f) => f.endsWith('.tmp')).length < 2 && Date.now() - t < 30_000;) await new Promise((r) => setTimeout(r, 100));
        expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')).sort()).toEqual(['dlq.jsonl.tmp', 'out.jsonl.tmp']);
        child.kill(signal);
      } finally {
        closeSync(fd); // a read of a FIFO still waiting holds the process until its writer is gone
      }
      expect(await exited).toBe(code);
      expect(stderr).toContain(`concord stream: ${signal}: stopped before the end of ${input}; no output file was written (run it again)`);
      expect(readdirSync(dir).sort()).toEqual(['in.fifo']);
      expect(existsSync(join(dir, 'out.jsonl'))).toBe(false);
    }, 60_000);
  }
});
