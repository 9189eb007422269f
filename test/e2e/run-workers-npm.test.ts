import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteGroups } from '../../stream/kafka/admin.ts';
import { kafkaSettings } from '../../stream/kafka/client.ts';
import { deleteTopic, topicsStartingWith } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `npm run concord -- run --workers N` from the user's own directory: npm runs the script in the package
// root and the CLI moves to the caller's directory (INIT_CWD) before reading paths. The workers are this
// CLI again with the parent's node options (`--import tsx`), which resolve from where a process starts:
// started in the caller's directory, every worker failed with ERR_MODULE_NOT_FOUND for tsx.
const ws = tempWorkspace('concord-workers-npm-');
const root = fileURLToPath(new URL('../..', import.meta.url));
const prefix = `test-workers-npm-${randomUUID().slice(0, 6)}.`;
afterAll(async () => {
  await deleteGroups(kafkaSettings('concord-test'), [`${prefix}concord-orders`, `${prefix}concord-orders.merge`]);
  for (const topic of await topicsStartingWith(prefix)) await deleteTopic(topic);
  ws.cleanup();
});

describe('run --workers through npm from another directory', () => {
  it('each worker starts, reads the relative --definitions of the caller, and the run drains', () => {
    const user = join(ws.dir, 'user');
    mkdirSync(user);
    // A definitions file by a relative path: the workers must read it from the caller's directory too.
    writeFileSync(join(user, 'orders.json'), JSON.stringify({
      schemas: { orders: { time: 'ts', id: 'order_id', key: 'customer_id', fields: { order_id: 'string', ts: 'timestamp', customer_id: 'string', country: 'string' } } },
      pipelines: { orders_per_country: { input: 'orders', key: ['customer_id'], window: { tumbling: '10m' }, aggregates: { orders: 'count' } } },
    }));
    const start = Date.parse('2026-12-05T10:00:00Z');
    writeFileSync(join(user, 'orders.jsonl'), Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ order_id: `o${i}`, ts: start + i * 30_000, customer_id: `c${i % 7}`, country: 'DE' })).join('\n') + '\n');
    const env = { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '2' };
    const npm = (args: string[]) => spawnSync('npm', ['--prefix', root, 'run', '-s', 'concord', '--', ...args, '--definitions', 'orders.json'],
      { cwd: user, encoding: 'utf8', env, timeout: 150_000 });
    const produced = npm(['produce', '--schema', 'orders', '--input', 'orders.jsonl']);
    expect(produced.status, produced.stderr).toBe(0);
    const run = npm(['run', '--pipeline', 'all', '--workers', '2', '--stop-when-idle', '2s']);
    expect(run.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain('2 workers ended: exit codes 0, 0');
    // Every event was read by one worker or the other: the two summaries add up to the file.
    const events = [...run.stderr.matchAll(/\] orders: (\d+) events/g)].map((m) => Number(m[1]));
    expect(events).toHaveLength(2);
    expect(events.reduce((a, b) => a + b, 0)).toBe(40);
  }, 200_000);
});
