import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { ReconcileReport } from '../../reconcile/reconcile.ts';
import { ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { concordInBackground } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A producer of the user's own that keys its records wrongly (driver d0's rides without a key, d1's by
// the ride id) over a topic whose schema declares `key: driver_id`: the pipelines keyed by the driver are
// computed per partition, each partition counting its share (docs/operations.md, "not keyed by the
// partition key"). `concord reconcile` over the topic's archive names every such difference `mis_keyed`,
// with the partitions, and says what to do; before, they were `unexplained`.
const ws = tempWorkspace('concord-miskey-');
const s = kafkaSettings('concord-test-miskey');
const topics: string[] = [];
afterAll(async () => {
  for (const t of topics) await deleteTopic(t).catch(() => undefined);
  ws.cleanup();
});
const T0 = Date.parse('2026-11-23T10:00:00Z');

const cli = (args: string[], prefix: string) => concordInBackground(args, { CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '2' });

describe('reconcile over a topic not keyed by the schema\'s key field', () => {
  it('names the shares mis_keyed, windows and alerts, with the partitions and what to do', async () => {
    const definitions = {
      schemas: { rides: { time: 'pickup_at', id: 'ride_id', key: 'driver_id', fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', zone: 'string' } } },
      pipelines: {
        per_driver: { input: 'rides', key: ['driver_id'], window: { tumbling: '15m' }, aggregates: { rides: 'count' } },
        // Each driver's rides are in 4 zones, each partition's share in 2: the shares raise alerts later, with fewer zones.
        roaming_driver: { input: 'rides', key: 'driver_id', rule: { within: '10m', distinct: 'zone', more_than: 1, output: 'zones' } },
      },
    };
    const file = join(ws.dir, 'rides.json');
    writeFileSync(file, JSON.stringify(definitions));
    const prefix = `miskey${randomUUID().slice(0, 6)}.`;
    const specs = concordTopics(parseDefinitions(definitions, file), 2, prefix);
    topics.push(...specs.map((t) => t.name));
    await ensureTopics(s, specs);
    const input = topicNames(prefix).input('rides');
    const producer = new Producer({ clientId: 'concord-test-miskey', bootstrapBrokers: s.brokers, acks: ProduceAcks.ALL, serializers: stringSerializers });
    try {
      for (let i = 0; i < 40; i++) {
        const ride = { ride_id: `r${i}`, pickup_at: new Date(T0 + i * 1_000).toISOString(), driver_id: `d${i % 2}`, zone: `z${Math.floor(i / 2) % 4}` };
        const key = i % 2 === 1 ? { key: ride.ride_id } : {};
        await producer.send({ messages: [{ topic: input, partition: Math.floor(i / 2) % 2, value: JSON.stringify(ride), ...key }] });
      }
    } finally {
      await producer.close();
    }
    const run = await cli(['run', '--definitions', file, '--pipeline', 'all', '--stop-when-idle', '3s'], prefix);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('40 not keyed by the partition key');
    const realtime = join(ws.dir, 'results.jsonl');
    const results = await cli(['results', '--definitions', file, '--output', realtime], prefix);
    expect(results.code, results.stderr).toBe(0);
    const archive = join(ws.dir, 'archive');
    const archived = await cli(['archive', '--definitions', file, '--schema', 'rides', '--from-kafka', '--stop-when-idle', '3s', '--dir', archive], prefix);
    expect(archived.code, archived.stderr).toBe(0);

    const reconciled = async (pipeline: string) => {
      const output = join(ws.dir, `${pipeline}.json`);
      const r = await cli(['reconcile', '--definitions', file, '--pipeline', pipeline, '--realtime', realtime, '--archive', archive, '--output', output, '--fail-on-unexplained'], prefix);
      expect(r.code, r.stderr).toBe(0);
      return { stderr: r.stderr, report: JSON.parse(readFileSync(output, 'utf8')) as ReconcileReport };
    };
    const partitions = [`${input}:0`, `${input}:1`];
    const windows = await reconciled('per_driver');
    // Each driver's window holds 20 rides; the stream's row is one partition's 10.
    expect(windows.report.unexplained).toBe(0);
    expect(windows.report.differences.map((d) => [d.cell.driver_id, d.realtime?.rides, d.replay?.rides, d.cause, [...d.partitions!].sort()]))
      .toEqual([['d0', 10, 20, 'mis_keyed', partitions], ['d1', 10, 20, 'mis_keyed', partitions]]);
    expect(windows.stderr).toContain('per_driver: 2 cells counted per partition over a topic not keyed by the schema\'s `key` field');
    expect(windows.stderr).toContain('key the records by that field, or declare the schema\'s `key` as the field the producer keys by');

    const alerts = await reconciled('roaming_driver');
    expect(alerts.report.unexplained).toBe(0);
    expect(alerts.report.different).toBeGreaterThan(0);
    expect(alerts.report.causes.mis_keyed).toBe(alerts.report.different);
    expect(alerts.report.differences.every((d) => [...d.partitions!].sort().join() === partitions.join())).toBe(true);
    // Alerts raised from a share (fewer zones), and alerts the whole key raises that no share did.
    expect(alerts.report.differences.some((d) => d.realtime !== null && (d.realtime.zones as unknown[]).length === 2)).toBe(true);
    expect(alerts.report.differences.some((d) => d.realtime === null)).toBe(true);
  }, 180_000);
});
