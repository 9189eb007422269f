import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { clicksSchema } from '../../examples/seed.ts';
import { ensureTopics, kafkaSettings, readToEnd } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { clickStreamArb } from '../fixtures/arbitraries.ts';
import { hostileLineArb } from '../fixtures/hostile-lines.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { RAW_PREFIX_BYTES } from '../../sources/line-limits.ts';

// Records a broken or hostile producer sends, through a real broker into a worker and the archiver:
// both reject the same records with their reasons (the bytes kept), count every record, and a click
// with a 400 KB url is counted like any other.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-hostile-kafka-');
afterAll(() => ws.cleanup());
const s = kafkaSettings('concord-test-hostile');
const T0 = Date.parse('2026-11-23T10:00:00Z');
const VALID = 300;

function cli(args: string[], prefix: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
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
    // The first rejection is said with its reason and where the rest are (all rejected printed no reason).
    expect(run.stderr).toMatch(new RegExp(`run clicks: first rejected record: \\S+ offset \\d+: .+; every rejected record is in topic ${prefix.replace('.', '\\.')}concord\\.dlq`));
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

/** Sends `values` (null: a tombstone) to partition 0 of `topic`, in order, in batches. */
async function produceAll(topic: string, values: readonly (Buffer | null)[]): Promise<void> {
  const producer = new Producer({
    clientId: 'concord-test-hostile', bootstrapBrokers: s.brokers, acks: ProduceAcks.ALL,
    serializers: { ...stringSerializers, value: (v?: Buffer | null) => v ?? undefined },
  });
  try {
    for (let i = 0; i < values.length; i += 200) {
      await producer.send({ messages: values.slice(i, i + 200).map((value) => ({ topic, key: 'k', partition: 0, ...(value === null ? {} : { value }) })) });
    }
  } finally {
    await producer.close();
  }
}

/** The results topic's last word per (pipeline, window, key): one partition, so offset order is emission order. */
async function finalResults(prefix: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const r of await readToEnd(s, topicNames(prefix).results)) {
    const { revision: _r, watermark: _w, emitted_at: _e, ...cell } = JSON.parse(r.value) as Record<string, unknown>;
    out.set(JSON.stringify([cell.pipeline, cell.window_start, cell.url]), cell);
  }
  return out;
}

describe('hostile records over Kafka (fuzz)', () => {
  // fast-check's hostile lines (the generator of test/property/hostile-input.test.ts) as Kafka records among
  // generated valid clicks, through a real worker and the archiver: no crash, every hostile record a dead
  // letter with a reason (bounded, bytes kept), counters equal to what was sent, and the results over the
  // valid records equal to a worker's over the valid records alone. CONCORD_FUZZ_KAFKA_LINES: how many
  // (CI 5,000: with the stream and archive properties ~10k hostile inputs; `npm run chaos`: 50,000).
  const HOSTILE = Number(process.env.CONCORD_FUZZ_KAFKA_LINES ?? 5_000);
  it(`${HOSTILE} generated hostile records among generated clicks: dead letters, counts and results as without them`, async () => {
    const LIMIT = 4_096;
    const seed = Number(process.env.CONCORD_FUZZ_SEED ?? 20261202);
    // Four generated streams one after the other: disordered within each, and each going back in time
    // (late events) against the one before.
    const clicks: Record<string, unknown>[] = fc.sample(clickStreamArb({ maxEvents: 300 }), { numRuns: 4, seed })
      .flatMap((stream, k) => stream.map((c) => ({ ...c, event_id: `${k}-${String(c.event_id)}` })));
    const hostile = fc.sample(hostileLineArb(LIMIT), { numRuns: HOSTILE, seed: seed + 1 });
    const at = fc.sample(fc.integer({ min: 0, max: clicks.length }), { numRuns: HOSTILE, seed: seed + 2 }).sort((a, b) => a - b);
    const dirty: Buffer[] = [], clean: Buffer[] = [], rejected: typeof hostile = [];
    let h = 0, lastTs = String(clicks[0]!.ts);
    const T = String(Date.UTC(2026, 10, 24, 10));
    for (let i = 0; i <= clicks.length; i++) {
      for (; h < hostile.length && at[h]! <= i; h++) {
        const x = hostile[h]!;
        // An odd record is a valid click: it takes the time of the click before it, so it is never late.
        const bytes = x.kind === 'odd' ? Buffer.from(x.bytes.toString('utf8').replace(T, lastTs)) : x.bytes;
        dirty.push(bytes);
        if (x.kind === 'odd') clean.push(bytes);
        else rejected.push(x);
      }
      if (i === clicks.length) break;
      const b = Buffer.from(JSON.stringify(clicks[i]));
      dirty.push(b);
      clean.push(b);
      lastTs = String(clicks[i]!.ts);
    }
    const [pd, pc] = [`fd${randomUUID().slice(0, 6)}.`, `fc${randomUUID().slice(0, 6)}.`];
    for (const [prefix, values] of [[pd, dirty], [pc, clean]] as const) {
      await ensureTopics(s, concordTopics([clicksSchema], 1, prefix));
      await produceAll(topicNames(prefix).input('clicks'), values);
    }
    const env = { CONCORD_MAX_LINE_BYTES: String(LIMIT) };
    const run = ['run', '--pipeline', 'page_views_per_minute', '--worker-id', 'f1', '--stop-when-idle', '3s'];
    const dir = join(ws.dir, 'archive-fuzz');
    const [worker, archive] = await Promise.all([cli(run, pd, env), cli(['archive', '--from-kafka', '--schema', 'clicks', '--dir', dir, '--stop-when-idle', '3s'], pd, env)]);
    const cleanWorker = await cli(run, pc, env);
    for (const r of [worker, archive, cleanWorker]) expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(worker.stderr).toMatch(new RegExp(`clicks: ${clean.length} events, \\d+ results, \\d+ late, ${rejected.length} rejected`));
    expect(archive.stderr).toMatch(new RegExp(`archived ${clean.length} clicks events from Kafka and ${rejected.length} rejected records .* of ${dirty.length} records read`));

    const dlq = (await readToEnd(s, topicNames(pd).deadLetter)).map((r) => JSON.parse(r.value) as Record<string, unknown>);
    expect(dlq).toHaveLength(rejected.length);
    for (const [i, d] of dlq.entries()) {
      const sent = rejected[i]!;
      expect(String(d.reason).length, JSON.stringify(d)).toBeGreaterThan(0);
      expect(String(d.raw).length).toBeLessThanOrEqual(RAW_PREFIX_BYTES);
      if (sent.what === 'not UTF-8') expect(Buffer.from(String(d.raw), 'base64')).toEqual(sent.bytes);
      if (sent.what === 'over the line limit') expect(d).toMatchObject({ raw_truncated: true, raw_bytes: sent.bytes.length });
    }
    const [mine, theirs] = [await finalResults(pd), await finalResults(pc)];
    expect(mine.size).toBeGreaterThan(0);
    expect([...mine.entries()].sort()).toEqual([...theirs.entries()].sort());
  }, 300_000);
});
