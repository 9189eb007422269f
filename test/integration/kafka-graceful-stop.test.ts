import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { seedDefinitionsPath } from '../../examples/seed.ts';
import { committedOffsets, kafkaSettings } from '../../stream/kafka/client.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A graceful stop (SIGINT) of `concord run` mid-stream. The worker left its group while the transaction
// of its last step was still committing: the broker refused it (UNKNOWN_MEMBER_ID, "another member owns
// those partitions") and the restart read those records again. Nothing was lost or doubled in the
// outputs, but a stop that is asked for should end with everything it processed committed.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-stop-');
afterAll(() => ws.cleanup());
const CLICKS = 100_000;
const definitions = JSON.parse(readFileSync(seedDefinitionsPath, 'utf8')) as { pipelines: Record<string, unknown> };
delete definitions.pipelines.fraud_multi_country;
const env = {
  CONCORD_DEFINITIONS: ws.file('definitions.json', [JSON.stringify(definitions)]),
  // Small fetches: many transactions, so one is in flight whenever the stop comes.
  CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '16384',
};

function run(prefix: string, extra: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'all', ...extra], {
    cwd: root, env: { ...process.env, ...env, CONCORD_TOPIC_PREFIX: prefix }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const out = { stderr: '' };
  child.stderr.on('data', (d) => { out.stderr += String(d); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

/** Records a run took from the input: events and rejected lines, from its final summary line. */
function consumed(stderr: string): number {
  const m = /clicks: (\d+) events, \d+ results, \d+ late, (\d+) rejected/.exec(stderr);
  if (!m) throw new Error(`no summary in: ${stderr}`);
  return Number(m[1]) + Number(m[2]);
}

describe('concord run stopped by SIGINT mid-stream (real broker)', () => {
  it('commits its last transaction before it leaves the group: the restart reads none of it again', async () => {
    const prefix = `stop${randomUUID().slice(0, 6)}.`;
    const produced = concord(['produce', '--schema', 'clicks', '--count', String(CLICKS), '--seed', '3', '--date', '2026-11-23', '--partitions', '2'], { ...env, CONCORD_TOPIC_PREFIX: prefix });
    expect(produced.code, produced.stderr).toBe(0);

    const first = run(prefix, []);
    // Stopped as soon as the group has committed some of the input (a fixed delay was too long on a fast hour).
    const committed = async () => [...(await committedOffsets(kafkaSettings('concord-test'), `${prefix}concord-clicks`, `${prefix}clicks`)).values()].reduce((a, b) => a + b, 0);
    for (const started = Date.now(); (await committed()) === 0;) {
      if (Date.now() - started > 60_000) throw new Error(`nothing committed within 60 s: ${first.out.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGINT');
    expect(await first.exited, first.out.stderr).toBe(0);
    expect(first.out.stderr).not.toMatch(/refused|UNKNOWN_MEMBER_ID/);
    const before = consumed(first.out.stderr);
    expect(before, 'the stop came after the input was read: make the input longer').toBeLessThan(CLICKS);
    expect(before).toBeGreaterThan(0);

    const second = run(prefix, ['--stop-when-idle', '2s']);
    expect(await second.exited, second.out.stderr).toBe(0);
    // Every record once over both runs: the first run's last step was not read again.
    expect(before + consumed(second.out.stderr)).toBe(CLICKS);
  }, 180_000);
});
