import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteTopic, topicsStartingWith } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A schema whose Kafka `key` field lives in a nested object (`"paths": {"user_id": "user.id"}`):
// `produce` keys each record by the value the workers read, so `run` finds every record keyed by its
// partition key (none "not keyed by") and computes each user whole per partition. Keyed by the flat
// name only, every nested event was keyed null: one partition for all, each one mis-keyed.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-nested-key-');
const prefix = `nested-${randomUUID().slice(0, 6)}.`;
afterAll(async () => {
  for (const t of await topicsStartingWith(prefix)) await deleteTopic(t).catch(() => undefined);
  ws.cleanup();
});

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '3' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('produce and run with a nested key field', () => {
  it('records are keyed by the nested value: none mis-keyed, each user counted whole', async () => {
    const definitions = {
      schemas: { clicks: { time: 'ts', id: 'event_id', key: 'user_id', fields: { event_id: 'string', ts: 'timestamp', user_id: 'string' }, paths: { user_id: 'user.id' } } },
      pipelines: { per_user: { input: 'clicks', key: 'user_id', window: { tumbling: '15m' }, aggregates: { n: 'count' } } },
    };
    const file = join(ws.dir, 'defs.json');
    writeFileSync(file, JSON.stringify(definitions));
    const T0 = Date.parse('2026-11-23T10:00:00Z');
    const users = ['u0', 'u1', 'u2', 'u3', 'u4'];
    // Nested mostly, a few flat: both read alike, so keyed alike.
    const events: Record<string, unknown>[] = Array.from({ length: 50 }, (_, i) => {
      const user = users[i % users.length]!;
      const base = { event_id: `e${i}`, ts: new Date(T0 + i * 1_000).toISOString() };
      return i % 6 === 0 ? { ...base, user_id: user } : { ...base, user: { id: user, name: 'n' } };
    });
    const input = join(ws.dir, 'nested.jsonl');
    writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const produced = await cli(['produce', '--definitions', file, '--schema', 'clicks', '--input', input]);
    expect(produced.code, produced.stderr).toBe(0);
    const run = await cli(['run', '--definitions', file, '--pipeline', 'all', '--stop-when-idle', '3s']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/clicks: 50 events, \d+ results, 0 late, 0 rejected/);
    expect(run.stderr).not.toContain('not keyed by');
    const out = join(ws.dir, 'results.jsonl');
    const results = await cli(['results', '--definitions', file, '--output', out]);
    expect(results.code, results.stderr).toBe(0);
    const rows = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { user_id: string; n: number; revision: number });
    const expected = Object.fromEntries(users.map((u) => [u, events.filter((e) => (e.user_id ?? (e.user as { id: string } | undefined)?.id) === u).length]));
    expect(Object.fromEntries(rows.map((r) => [r.user_id, r.n]))).toEqual(expected);
  }, 180_000);
});
