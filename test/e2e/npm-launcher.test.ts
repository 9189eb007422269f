import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { processesWith } from '../fixtures/processes.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `npm run concord -- serve` runs node under npm -> sh -> tsx; a SIGTERM to npm is not passed on by the
// shell. Every command takes its launcher's exit as a SIGTERM (cli/launcher-watch.ts, cli/main.ts), so
// stopping npm stops the server instead of leaving it listening, orphaned.
const ws = tempWorkspace('concord-npm-launcher-');
const root = fileURLToPath(new URL('../..', import.meta.url));
const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
  // What a failing run left behind (the orphaned server) goes too.
  for (const line of processesWith(ws.dir)) { try { process.kill(Number(line.split(' ')[0]), 'SIGKILL'); } catch { /* gone */ } }
  ws.cleanup();
});

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('a long-running command started by npm', () => {
  it('`npm run concord -- serve` stopped by SIGTERM to npm: the server stops and says why, no process left', async () => {
    const store = join(ws.dir, `served-${randomUUID().slice(0, 8)}.duckdb`);
    const input = ws.file('clicks.jsonl', [{ event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' }]);
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', ws.file('out.jsonl'), '--store', `duckdb:${store}`]).code).toBe(0);
    const npm = spawn('npm', ['run', 'concord', '--', 'serve', '--store', `duckdb:${store}`, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(npm);
    let out = '';
    npm.stdout!.on('data', (d) => { out += String(d); });
    npm.stderr!.on('data', (d) => { out += String(d); });
    await until('the server to listen', () => out.includes('concord serve ready'), 60_000);
    expect(processesWith(store).length).toBeGreaterThanOrEqual(2); // npm, sh, tsx, node
    process.kill(npm.pid!, 'SIGTERM');
    await until('every process of the server to exit', () => processesWith(store).length === 0, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${processesWith(store).join('\n')}\n${out}`);
    });
    expect(out).toMatch(/concord serve: its launcher .* \(pid \d+\) exited: stopping as on SIGTERM/);
  }, 120_000);
});
