import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `--output /dev/stdout | head -1` (the docs' "`--output /dev/stdout | jq` works"): the output is written
// to descriptor 1 by its own stream, not process.stdout, so the closed-pipe rule of cli/closed-pipe.ts
// did not reach it. The run waited for a 'drain' that never came and Node ended it with exit 13 and an
// "unsettled top-level await" warning.
const ws = tempWorkspace('concord-closed-output-');
afterAll(() => ws.cleanup());
const root = fileURLToPath(new URL('../..', import.meta.url));

const events = ws.file('events.jsonl', Array.from({ length: 300 }, (_, i) => (
  { event_id: `e${i}`, ts: i * 61_000, url: `/p${i % 3}`, visitor_id: `v${i}` }
)));

/** `concord ARGS | reader that closes its end at once`: the command's exit status and stderr. */
function intoClosedPipe(args: string): { status: string | undefined; stderr: string } {
  const cmd = `"${process.execPath}" --import tsx cli/main.ts ${args} | { exec 0<&-; sleep 2; }; echo "exit \${PIPESTATUS[0]}" >&2`;
  const r = spawnSync('bash', ['-c', cmd], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const lines = r.stderr.trim().split('\n');
  return { status: lines.at(-1), stderr: lines.slice(0, -1).join('\n') };
}

describe('an output file named /dev/stdout whose reader went away', () => {
  it('stream ends quietly with the closed-pipe status (141), and leaves no .tmp of its other outputs', () => {
    const late = `${ws.dir}/late.jsonl`;
    const r = intoClosedPipe(`stream --pipeline page_views_per_minute --input ${events} --output /dev/stdout --late-output ${late}`);
    expect(r.stderr).not.toMatch(/EPIPE|unsettled|Warning|failed|\n {4}at /);
    expect(r.status).toBe('exit 141');
    expect(readdirSync(ws.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
