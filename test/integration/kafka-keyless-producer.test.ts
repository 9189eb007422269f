import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A producer of the user's own that sends no record keys spreads each driver over the partitions
// (docs/operations.md, "keyed by the partition key"). With the schema's `key` declared, a pipeline keyed
// by it is computed per partition: the run counts and says the records that are not keyed by it, and how
// to get out of it; with `key` left out, the same pipeline goes through the merge stage and its numbers
// no longer depend on where the records landed.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-keyless-');
const s = kafkaSettings('concord-test-keyless');
const topics: string[] = [];
afterAll(async () => {
  for (const t of topics) await deleteTopic(t).catch(() => undefined);
  ws.cleanup();
});
const T0 = Date.parse('2026-11-23T10:00:00Z');

function cli(args: string[], prefix: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '2' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

/** Runs `per_driver` over 40 keyless rides of two drivers, each driver's rides on both partitions; the run's stderr and the exported rows. */
async function runKeyless(declareKey: boolean): Promise<{ stderr: string; rides: Record<string, number> }> {
  const definitions = {
    schemas: { rides: { time: 'pickup_at', id: 'ride_id', ...(declareKey ? { key: 'driver_id' } : {}), fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string' } } },
    pipelines: { per_driver: { input: 'rides', key: ['driver_id'], window: { tumbling: '15m' }, aggregates: { rides: 'count' } } },
  };
  const file = join(ws.dir, `rides-${declareKey}.json`);
  writeFileSync(file, JSON.stringify(definitions));
  const prefix = `h${randomUUID().slice(0, 6)}.`;
  const specs = concordTopics(parseDefinitions(definitions, file), 2, prefix);
  topics.push(...specs.map((t) => t.name));
  await ensureTopics(s, specs);
  const producer = new Producer({ clientId: 'concord-test-keyless', bootstrapBrokers: s.brokers, acks: ProduceAcks.ALL, serializers: stringSerializers });
  try {
    for (let i = 0; i < 40; i++) {
      const value = JSON.stringify({ ride_id: `r${i}`, pickup_at: new Date(T0 + i * 1_000).toISOString(), driver_id: `d${i % 2}` });
      await producer.send({ messages: [{ topic: topicNames(prefix).input('rides'), partition: Math.floor(i / 2) % 2, value }] });
    }
  } finally {
    await producer.close();
  }
  const run = await cli(['run', '--definitions', file, '--pipeline', 'all', '--stop-when-idle', '3s'], prefix);
  expect(run.code, run.stderr).toBe(0);
  const out = join(ws.dir, `results-${declareKey}.jsonl`);
  const results = await cli(['results', '--definitions', file, '--output', out], prefix);
  expect(results.code, results.stderr).toBe(0);
  const rows = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { driver_id: string; rides: number });
  return { stderr: run.stderr, rides: Object.fromEntries(rows.map((r) => [r.driver_id, r.rides])) };
}

describe('a producer that sends no record keys', () => {
  it('with the schema\'s key declared: the run counts the records not keyed by it and says what to do', async () => {
    const { stderr } = await runKeyless(true);
    expect(stderr).toMatch(/rides: 40 events, \d+ results, 0 late, 0 rejected, 40 not keyed by the partition key, /);
    expect(stderr).toContain('leave `key` out of schema rides: its pipelines then merge the partitions');
  }, 120_000);

  it('with the key left out of the schema: the pipeline merges the partitions, each driver counted whole', async () => {
    const { stderr, rides } = await runKeyless(false);
    expect(stderr).not.toContain('not keyed by');
    expect(rides).toEqual({ d0: 20, d1: 20 });
  }, 120_000);
});
