import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { clicksSchema } from '../../examples/seed.ts';
import { ensureTopics, kafkaSettings, readToEnd } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Records a broken or hostile producer sends, through a real broker into a worker and the archiver:
// both reject the same records with their reasons (the bytes kept), count every record, and a click
// with a 400 KB url is counted like any other.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-hostile-kafka-');
afterAll(() => ws.cleanup());
const s = kafkaSettings('concord-test-hostile');
const T0 = Date.parse('2026-11-23T10:00:00Z');
const VALID = 300;

function cli(args: string[], prefix: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('hostile records over Kafka', () => {
  it.each([['', 0], [', a 400 KB url', 400_000]])('tombstones, empty values, bytes that are not UTF-8%s: worker and archiver agree, nothing silently dropped', async (_, bigUrl) => {
    const prefix = `h${randomUUID().slice(0, 6)}.`;
    await ensureTopics(s, concordTopics([clicksSchema], 1, prefix));
    const topic = topicNames(prefix).input('clicks');
    const click = (i: number, url = `/p${i % 5}`) => Buffer.from(JSON.stringify({ event_id: `c${i}`, ts: T0 + i * 1_000, url, visitor_id: `v${i % 7}` }));
    const notUtf8 = Buffer.concat([Buffer.from('{"event_id":"x","ts":1,"url":"/'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","visitor_id":"v"}')]);
    const hostile: (Buffer | null)[] = [null, Buffer.alloc(0), Buffer.from('   '), notUtf8, Buffer.from('{"event_id":')];
    const values: (Buffer | null)[] = [];
    for (let i = 0; i < VALID; i++) {
      values.push(i === 150 && bigUrl > 0 ? click(i, `/${'u'.repeat(bigUrl)}`) : click(i));
      if (i % 60 === 30) values.push(hostile[(i - 30) / 60]!);
    }
    const producer = new Producer({
      clientId: 'concord-test-hostile', bootstrapBrokers: s.brokers, acks: ProduceAcks.ALL,
      serializers: { ...stringSerializers, value: (v?: Buffer | null) => v ?? undefined },
    });
    try {
      for (const value of values) await producer.send({ messages: [{ topic, key: 'k', partition: 0, ...(value === null ? {} : { value }) }] });
    } finally {
      await producer.close();
    }

    const dir = join(ws.dir, `archive-${bigUrl}`);
    const [run, archive] = await Promise.all([
      cli(['run', '--pipeline', 'page_views_per_minute', '--worker-id', 'h1', '--stop-when-idle', '3s'], prefix),
      cli(['archive', '--from-kafka', '--schema', 'clicks', '--dir', dir, '--stop-when-idle', '3s'], prefix),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(archive.code, archive.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`clicks: ${VALID} events, \\d+ results, 0 late, ${hostile.length} rejected`));
    expect(archive.stderr).toMatch(new RegExp(`archived ${VALID} clicks events from Kafka and ${hostile.length} rejected records .* of ${VALID + hostile.length} records read`));

    const dlq = (await readToEnd(s, topicNames(prefix).deadLetter)).map((r) => JSON.parse(r.value) as Record<string, unknown>);
    const rejected = readdirSync(join(dir, 'clicks', '_rejected')).flatMap((f) =>
      readFileSync(join(dir, 'clicks', '_rejected', f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
    const summary = (rows: Record<string, unknown>[]) => rows.map((d) => `${String(d.offset)} ${String(d.reason).split(':')[0]}`).sort();
    expect(summary(dlq)).toEqual(summary(rejected));
    expect(dlq.map((d) => String(d.reason).split(':')[0]).sort()).toEqual(
      ['empty record (0 bytes)', 'empty record (3 bytes of white space)', 'malformed JSON', 'not UTF-8', 'null value (a tombstone)'].sort(),
    );
    // The original bytes, not U+FFFD.
    const bad = dlq.find((d) => String(d.reason).startsWith('not UTF-8'))!;
    expect(bad.raw_encoding).toBe('base64');
    expect(Buffer.from(String(bad.raw), 'base64')).toEqual(notUtf8);
  }, 180_000);
});
