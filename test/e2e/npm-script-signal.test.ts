import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../stream/kafka/topics.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `npm run concord` ran the tsx CLI, which runs Concord in a child node and relays SIGINT/SIGTERM to it,
// but SIGKILLs the child when it has not acknowledged the signal within ~30 ms. A worker whose event
// loop was busy at that moment (a large step, a GC pause, a loaded machine) died mid-transaction: no
// clean stop, no summary, exit 130/143 (seen as a Kafka operator: 2 of 3 SIGTERMs during a produce).
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-npm-script-signal-');
const prefix = `h-kafkaops-sig${randomUUID().slice(0, 6)}.`;

afterAll(async () => {
  const t = topicNames(prefix);
  for (const name of [t.input('clicks'), t.results, t.late, t.deadLetter, t.checkpoints, t.watermarks]) await deleteTopic(name).catch(() => undefined);
  ws.cleanup();
});

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('the `concord` npm script', () => {
  it('a Ctrl-C while the worker is busy stops `run` cleanly: it finishes, says its summary and exits 0', async () => {
    const script = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.concord!;
    const flag = join(ws.dir, 'busy');
    // As npm runs it (its command through sh, node_modules/.bin first on PATH), in a process group of its own, as a terminal's.
    const child = spawn('sh', ['-c', `exec ${script} run --pipeline page_views_per_minute --metrics-port none --worker-id sig`], {
      cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}`, CONCORD_TOPIC_PREFIX: prefix,
        CONCORD_TEST_BUSY_FLAG: flag, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${join(root, 'test', 'fixtures', 'busy-on-flag.mjs')}`,
      },
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until('the worker to be assigned its partitions', () => stderr.includes('assigned'), 90_000);
      writeFileSync(flag, '');
      await until('the worker to be busy', () => existsSync(`${flag}.busy`), 10_000);
      process.kill(-child.pid!, 'SIGINT'); // the terminal's Ctrl-C: every process of the group
      expect(await exited, stderr).toBe(0);
      expect(stderr).toMatch(/\[clicks\] clicks: \d+ events, .* transactions/); // the final summary of a clean stop
    } finally {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  }, 120_000);
});
