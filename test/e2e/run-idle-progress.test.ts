import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../stream/kafka/topics.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';

const prefix = `ip${randomUUID().slice(0, 6)}.`;
const env = { CONCORD_TOPIC_PREFIX: prefix };
const root = fileURLToPath(new URL('../..', import.meta.url));

/** `concord run` for `ms`, then SIGTERM: its stderr. */
function runFor(ms: number, args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const timer = setTimeout(() => child.kill('SIGTERM'), ms);
  return new Promise((r) => child.on('exit', () => { clearTimeout(timer); r(stderr); }));
}

afterAll(async () => {
  const t = topicNames(prefix);
  for (const name of [t.input('clicks'), t.input('transactions'), t.results, t.late, t.deadLetter, t.checkpoints]) await deleteTopic(name).catch(() => undefined);
});

// A worker said its numbers every 5 s whether they moved or not: an idle stream (a night, a quiet
// deployment) logged the same lines for good, ~17,000 a day per input and merge stage.
describe('concord run while idle', () => {
  it('says a progress line when its numbers moved, not the same one every 5 s', async () => {
    const produced = concord(['produce', '--schema', 'clicks', '--count', '200', '--partitions', '1'], env);
    expect(produced.code, produced.stderr).toBe(0);
    const stderr = await runFor(30_000, ['--pipeline', 'page_views_per_minute', '--metrics-port', 'none']);
    expect(stderr).toContain('assigned');
    const lines = stderr.split('\n').filter((l) => l.includes('run clicks (page_views_per_minute): '));
    expect(lines.length).toBeGreaterThan(0);
    expect(new Set(lines).size).toBe(lines.length);
  }, 120_000);
});
