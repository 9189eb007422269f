import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';

// A topic deleted and made again (e.g. after `npm run infra:down -- --clean` with a worker's group kept
// elsewhere, or a topic reset by hand) starts its offsets at 0. `run` restored its checkpoints, whose
// offsets lay past the new topic's end, and processed nothing: "0 events", exit 0, the new events lost.
const root = fileURLToPath(new URL('../..', import.meta.url));

function run(prefix: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '1s'], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('concord run over an input topic deleted and made again (real broker)', () => {
  it('is refused (exit 2) naming both topic ids, not restored past the new topic\'s records', async () => {
    const prefix = `rt${randomUUID().slice(0, 6)}.`;
    const produce = (seed: number) => {
      const r = concord(['produce', '--schema', 'clicks', '--count', '2000', '--seed', String(seed), '--date', '2026-11-23', '--partitions', '2'], { CONCORD_TOPIC_PREFIX: prefix });
      expect(r.code, r.stderr).toBe(0);
    };
    produce(1);
    const first = await run(prefix);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/clicks: 2000 events/);
    await deleteTopic(`${prefix}clicks`);
    produce(2);
    const again = await run(prefix);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toMatch(/the checkpoint of \S+clicks:\d is of the topic as it was before it was deleted and made again \(topic id \S+ then, \S+ now\)/);
    expect(again.stderr).toContain('Run under a new --group');
    expect(again.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
