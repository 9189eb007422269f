/**
 * Kafka client check and throughput: kafkajs 2.2.4 and @platformatic/kafka 2.x, each used directly
 * (this script compares the libraries, so it is the one place besides stream/kafka/client.ts that
 * imports them), against the broker from `npm run infra:up` (KAFKA_BROKERS, default 127.0.0.1:9092).
 *
 *   npx tsx bench/kafka-client.ts                  # both clients: checks, then throughput
 *   npx tsx bench/kafka-client.ts --client kafkajs --n 200000 --rounds 3
 *   npx tsx bench/kafka-client.ts --client module  # throughput through stream/kafka/client.ts (what Concord runs)
 *   npx tsx bench/kafka-client.ts --client all     # the two libraries and the module
 *   npx tsx bench/kafka-client.ts --checks-only | --throughput-only
 *
 * Checks: keyed produce; a consumer group reading everything and committing; a rebalance when a
 * second member joins (partitions split, none shared) and leaves; a transaction that sends records
 * and the group's offsets (sendOffsets) and commits, then one that aborts: a read_committed consumer
 * sees only the committed records, and the group's offset is the committed one.
 * Throughput: N records of 150-byte values (keys k0..k99), produced in batches of 5,000 awaited one by
 * one (acks = all, idempotent), into 3 partitions; then consumed by a fresh group from the earliest
 * offset. "consume" counts from the first record received (group join excluded), "consume+join" from
 * the call that starts the consumer.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import {
  Admin, compatibilityPartitioner, Consumer, FetchIsolationLevels, murmur2, ProduceAcks, Producer, stringDeserializers, stringSerializers, type Message, type Partitioner,
} from '@platformatic/kafka';
import { BatchConsumer, BatchProducer, TransactionalProducer, ensureTopics, kafkaSettings, type InBatch } from '../stream/kafka/client.ts';

const { values: opt } = parseArgs({
  options: {
    client: { type: 'string', default: 'both' },
    n: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    'checks-only': { type: 'boolean', default: false },
    'throughput-only': { type: 'boolean', default: false },
    transactions: { type: 'string', default: '500' },
  },
});
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const N = Number(opt.n);
const BATCH = 5_000;
const value150 = 'v'.repeat(150);
const uid = () => randomUUID().slice(0, 8);

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Check { check: string; ok: boolean; detail: string; informational: boolean }
const checks: Check[] = [];
/** An informational check is reported but does not fail the run. */
async function check(client: string, name: string, fn: () => Promise<string>, informational = false): Promise<void> {
  const t = performance.now();
  try {
    const detail = await fn();
    checks.push({ check: `${client}: ${name}`, ok: true, detail: `${detail} (${Math.round(performance.now() - t)} ms)`, informational });
  } catch (error) {
    const e = error as Error & { errors?: unknown[]; cause?: unknown };
    const more = e.errors ? ` [${e.errors.map((x) => (x as Error).message).join('; ')}]` : e.cause ? ` [cause: ${(e.cause as Error).message}]` : '';
    checks.push({ check: `${client}: ${name}`, ok: false, detail: `${e.name}: ${e.message}${more}`, informational });
  }
  const c = checks.at(-1)!;
  console.error(`${c.ok ? 'ok  ' : c.informational ? 'note' : 'FAIL'} ${c.check}: ${c.detail}`);
}

/** Where the Java client's default partitioner puts a key: toPositive(murmur2(key)) % partitions. */
const javaPartition = (key: string, partitions: number) => (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;
const PARTITIONER_CHECK = "keyed records land where Java's default partitioner puts them (6 partitions, keys k0..k199)";
function partitionMismatches(records: { key: string; partition: number }[]): string {
  const wrong = records.filter((r) => r.partition !== javaPartition(r.key, 6));
  if (wrong.length > 0) throw new Error(`${new Set(wrong.map((r) => r.key)).size} of 200 keys are in another partition than the Java client would use`);
  return 'all 200 keys agree';
}

/** Records/s; CPU of this process in µs per record (produce, consume) or per transaction; transactions/s. */
interface Rates { produce: number; consume: number; consumeWithJoin: number; produceCpu: number; consumeCpu: number; tx: number; txCpu: number }

const TXNS = Number(opt.transactions);
const cpuNow = () => { const u = process.cpuUsage(); return u.user + u.system; };
/** Per transaction: 10 records of 150 B to an output topic, the group's offset of the input, commit. */
const txRecords = (output: string, i: number) => Array.from({ length: 10 }, (_, j) => ({ topic: output, key: `k${(i * 10 + j) % 100}`, value: value150 }));

// ---------------------------------------------------------------- kafkajs

const kjs = new Kafka({ clientId: 'bench-kafkajs', brokers, logLevel: logLevel.NOTHING });

async function kjsTopic(topic: string, partitions: number): Promise<void> {
  const admin = kjs.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
  await admin.disconnect();
}

async function kjsCommitted(groupId: string, topic: string): Promise<number[]> {
  const admin = kjs.admin();
  await admin.connect();
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  return (t?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

/** A group member collecting records; `assigned` follows rebalances. */
async function kjsMember(groupId: string, topic: string, commit: boolean) {
  const consumer = kjs.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 500 });
  const state = { assigned: [] as number[], records: [] as { partition: number; offset: number; key: string; value: string }[], consumer };
  consumer.on(consumer.events.GROUP_JOIN, (e) => { state.assigned = ((e.payload.memberAssignment as Record<string, number[]>)[topic] ?? []).sort(); });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: commit,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) state.records.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? '', value: m.value?.toString() ?? '' });
    },
  });
  return state;
}

async function kafkajsChecks(): Promise<void> {
  const topic = `bench.check.kjs.${uid()}`;
  await check('kafkajs', 'produce 1,000 keyed records (acks=all, idempotent)', async () => {
    await kjsTopic(topic, 4);
    const p = kjs.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.sendBatch({ acks: -1, topicMessages: [{ topic, messages: Array.from({ length: 1000 }, (_, i) => ({ key: `k${i % 10}`, value: String(i) })) }] });
    await p.disconnect();
    return 'sent';
  });
  await check('kafkajs', 'consumer group reads all and commits', async () => {
    const group = `bench.g.${uid()}`;
    const m = await kjsMember(group, topic, true);
    await until('1000 records', () => m.records.length >= 1000);
    await m.consumer.disconnect();
    const committed = await kjsCommitted(group, topic);
    // An empty partition has no committed offset (-1).
    if (committed.filter((o) => o > 0).reduce((a, b) => a + b, 0) !== 1000) throw new Error(`committed offsets ${committed} do not add up to 1000`);
    return `1000 records, committed ${committed.join('/')}`;
  });
  await check('kafkajs', 'rebalance: a second member joins, then leaves', async () => {
    const group = `bench.g.${uid()}`;
    const a = await kjsMember(group, topic, true);
    const t0 = performance.now();
    await until('member A owning 4 partitions', () => a.assigned.length === 4);
    const t1 = performance.now();
    const b = await kjsMember(group, topic, true);
    await until('A and B splitting 4 partitions', () => a.assigned.length + b.assigned.length === 4 && a.assigned.length > 0 && b.assigned.length > 0);
    const t2 = performance.now();
    const split = `A ${a.assigned.join(',')} | B ${b.assigned.join(',')}`;
    if (a.assigned.some((p) => b.assigned.includes(p))) throw new Error(`a partition is in both members: ${split}`);
    await b.consumer.disconnect();
    const t3 = performance.now();
    await until('A owning all 4 again after B left', () => a.assigned.length === 4);
    const ms = (x: number, y: number) => `${Math.round(y - x)} ms`;
    const phases = `A assigned ${ms(t0, t1)}, split ${ms(t1, t2)}, back to A ${ms(t3, performance.now())}`;
    await a.consumer.disconnect();
    return `split ${split}; back to A after B left; ${phases}`;
  });
  await check('kafkajs', 'transactions: send + sendOffsets + commit, then abort; read_committed', async () => {
    const input = `bench.tx.in.${uid()}`, output = `bench.tx.out.${uid()}`, group = `bench.g.${uid()}`;
    await kjsTopic(input, 1);
    await kjsTopic(output, 1);
    const p = kjs.producer({ idempotent: true });
    await p.connect();
    await p.send({ acks: -1, topic: input, messages: Array.from({ length: 10 }, (_, i) => ({ key: null, value: `in${i}` })) });
    await p.disconnect();
    const m = await kjsMember(group, input, false);
    await until('10 input records', () => m.records.length >= 10);
    const tp = kjs.producer({ transactionalId: `bench-tx-${uid()}`, idempotent: true, maxInFlightRequests: 1 });
    await tp.connect();
    let tx = await tp.transaction();
    await tx.send({ topic: output, messages: m.records.slice(0, 5).map((r) => ({ key: null, value: `out-${r.value}` })) });
    await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }] }] });
    await tx.commit();
    tx = await tp.transaction();
    await tx.send({ topic: output, messages: [{ key: null, value: 'aborted' }] });
    await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: '10' }] }] });
    await tx.abort();
    await tp.disconnect();
    await m.consumer.disconnect();
    const reader = await kjsMember(`bench.g.${uid()}`, output, false); // kafkajs reads committed by default
    await until('5 committed output records', () => reader.records.length >= 5);
    await new Promise((r) => setTimeout(r, 1_000)); // give an aborted record a chance to show up
    await reader.consumer.disconnect();
    const seen = reader.records.map((r) => r.value);
    if (seen.includes('aborted') || seen.length !== 5) throw new Error(`read_committed consumer saw ${JSON.stringify(seen)}`);
    const committed = await kjsCommitted(group, input);
    if (committed[0] !== 5) throw new Error(`group offset is ${committed[0]}, expected 5 (the aborted sendOffsets must not count)`);
    return `read_committed saw 5 records, no aborted one; group offset 5`;
  });
  await check('kafkajs', PARTITIONER_CHECK, async () => {
    const t = `bench.part.kjs.${uid()}`;
    await kjsTopic(t, 6);
    const p = kjs.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.send({ acks: -1, topic: t, messages: Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: 'x' })) });
    await p.disconnect();
    const m = await kjsMember(`bench.g.${uid()}`, t, false);
    await until('200 records', () => m.records.length >= 200);
    await m.consumer.disconnect();
    return partitionMismatches(m.records);
  }, true);
}

async function kafkajsThroughput(): Promise<Rates> {
  const topic = `bench.tp.kjs.${uid()}`;
  await kjsTopic(topic, 3);
  const p = kjs.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  let t = performance.now();
  let cpu = cpuNow();
  for (let i = 0; i < N; i += BATCH) {
    await p.sendBatch({ acks: -1, topicMessages: [{ topic, messages: Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => ({ key: `k${(i + j) % 100}`, value: value150 })) }] });
  }
  const produce = N / ((performance.now() - t) / 1000);
  const produceCpu = (cpuNow() - cpu) / N;
  await p.disconnect();
  const c = kjs.consumer({ groupId: `bench.g.${uid()}`, maxBytesPerPartition: 1 << 20, maxWaitTimeInMs: 500 });
  let seen = 0, first = 0;
  t = performance.now();
  cpu = cpuNow();
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await c.run({
    eachBatch: async ({ batch }) => {
      if (seen === 0) first = performance.now();
      // Decode like @platformatic/kafka's stringDeserializers do, so both pay for strings.
      for (const m of batch.messages) if (m.key?.toString() === '' || m.value?.toString() === '') throw new Error('empty record');
      seen += batch.messages.length;
    },
  });
  await until(`${N} records`, () => seen >= N, 120_000);
  const end = performance.now();
  const consumeCpu = (cpuNow() - cpu) / N;
  const consumeWithJoin = N / ((end - t) / 1000);
  await c.disconnect();
  // Transactions: records + sendOffsets (TxnOffsetCommit v0-1, no generation) + commit.
  const output = `bench.tx.kjs.${uid()}`, group = `bench.g.${uid()}`;
  await kjsTopic(output, 3);
  const tp = kjs.producer({ transactionalId: `bench-tx-${uid()}`, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await tp.connect();
  t = performance.now();
  cpu = cpuNow();
  for (let i = 0; i < TXNS; i++) {
    const tx = await tp.transaction();
    await tx.sendBatch({ acks: -1, topicMessages: [{ topic: output, messages: txRecords(output, i).map(({ key, value }) => ({ key, value })) }] });
    await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }] });
    await tx.commit();
  }
  const tx = TXNS / ((performance.now() - t) / 1000), txCpu = (cpuNow() - cpu) / TXNS;
  await tp.disconnect();
  return { produce, consume: N / ((end - first) / 1000), consumeWithJoin, produceCpu, consumeCpu, tx, txCpu };
}

// ---------------------------------------------------------------- @platformatic/kafka

const base = { bootstrapBrokers: brokers, retries: 10, retryDelay: 200 };

async function pltTopic(topic: string, partitions: number): Promise<void> {
  const admin = new Admin({ ...base, clientId: 'bench-platformatic-admin' });
  await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  await admin.close();
}

async function pltCommitted(groupId: string, topic: string): Promise<number[]> {
  const admin = new Admin({ ...base, clientId: 'bench-platformatic-admin' });
  const [g] = await admin.listConsumerGroupOffsets({ groups: [groupId], requireStable: true });
  await admin.close();
  return (g?.topics.find((t) => t.name === topic)?.partitions ?? []).sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => Number(p.committedOffset));
}

async function pltMember(groupId: string, topic: string, commit: boolean, readCommitted = false) {
  const consumer = new Consumer({
    ...base, clientId: `bench-platformatic-${uid()}`, groupId, deserializers: stringDeserializers,
    sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTime: 500,
    isolationLevel: readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
  });
  const state = { assigned: [] as number[], records: [] as Message<string, string, string, string>[], consumer };
  consumer.on('consumer:group:join', (e) => { state.assigned = (e.assignments?.find((a) => a.topic === topic)?.partitions ?? []).slice().sort(); });
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: commit ? 100 : false });
  stream.on('data', (m) => state.records.push(m));
  stream.on('error', (e) => console.error(`platformatic consumer stream error: ${e.message}`));
  return state;
}

async function platformaticChecks(): Promise<void> {
  const topic = `bench.check.plt.${uid()}`;
  await check('@platformatic/kafka', 'produce 1,000 keyed records (acks=all, idempotent)', async () => {
    await pltTopic(topic, 4);
    const p = new Producer({ ...base, clientId: 'bench-platformatic', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL });
    await p.send({ messages: Array.from({ length: 1000 }, (_, i) => ({ topic, key: `k${i % 10}`, value: String(i) })) });
    await p.close();
    return 'sent';
  });
  await check('@platformatic/kafka', 'consumer group reads all and commits', async () => {
    const group = `bench.g.${uid()}`;
    const m = await pltMember(group, topic, true);
    await until('1000 records', () => m.records.length >= 1000);
    await until('autocommit', () => false, 400).catch(() => undefined); // autocommit runs every 100 ms
    await m.consumer.close(true);
    const committed = await pltCommitted(group, topic);
    // An empty partition has no committed offset (-1).
    if (committed.filter((o) => o > 0).reduce((a, b) => a + b, 0) !== 1000) throw new Error(`committed offsets ${committed} do not add up to 1000`);
    return `1000 records, committed ${committed.join('/')}`;
  });
  await check('@platformatic/kafka', 'rebalance: a second member joins, then leaves', async () => {
    const group = `bench.g.${uid()}`;
    const a = await pltMember(group, topic, true);
    const t0 = performance.now();
    await until('member A owning 4 partitions', () => a.assigned.length === 4);
    const t1 = performance.now();
    const b = await pltMember(group, topic, true);
    await until('A and B splitting 4 partitions', () => a.assigned.length + b.assigned.length === 4 && a.assigned.length > 0 && b.assigned.length > 0);
    const t2 = performance.now();
    const split = `A ${a.assigned.join(',')} | B ${b.assigned.join(',')}`;
    if (a.assigned.some((p) => b.assigned.includes(p))) throw new Error(`a partition is in both members: ${split}`);
    await b.consumer.close(true);
    const t3 = performance.now();
    await until('A owning all 4 again after B left', () => a.assigned.length === 4);
    const ms = (x: number, y: number) => `${Math.round(y - x)} ms`;
    const phases = `A assigned ${ms(t0, t1)}, split ${ms(t1, t2)}, back to A ${ms(t3, performance.now())}`;
    await a.consumer.close(true);
    return `split ${split}; back to A after B left; ${phases}`;
  });
  await check('@platformatic/kafka', 'transactions: send + addOffset (sendOffsets) + commit, then abort; read_committed', async () => {
    const input = `bench.tx.in.${uid()}`, output = `bench.tx.out.${uid()}`, group = `bench.g.${uid()}`;
    await pltTopic(input, 1);
    await pltTopic(output, 1);
    const p = new Producer({ ...base, clientId: 'bench-platformatic', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL });
    await p.send({ messages: Array.from({ length: 10 }, (_, i) => ({ topic: input, value: `in${i}` })) });
    await p.close();
    const m = await pltMember(group, input, false);
    await until('10 input records', () => m.records.length >= 10);
    const tp = new Producer({ ...base, clientId: 'bench-platformatic-tx', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL, transactionalId: `bench-tx-${uid()}` });
    let tx = await tp.beginTransaction();
    await tx.send({ messages: m.records.slice(0, 5).map((r) => ({ topic: output, value: `out-${r.value}` })) });
    await tx.addConsumer(m.consumer);
    await tx.addOffset(m.records[4]!); // commits offset 5 for the group
    await tx.commit();
    tx = await tp.beginTransaction();
    await tx.send({ messages: [{ topic: output, value: 'aborted' }] });
    await tx.addConsumer(m.consumer);
    await tx.addOffset(m.records[9]!);
    await tx.abort();
    await tp.close();
    await m.consumer.close(true);
    const reader = await pltMember(`bench.g.${uid()}`, output, false, true);
    await until('5 committed output records', () => reader.records.length >= 5);
    await new Promise((r) => setTimeout(r, 1_000)); // give an aborted record a chance to show up
    await reader.consumer.close(true);
    const seen = reader.records.map((r) => r.value);
    if (seen.includes('aborted') || seen.length !== 5) throw new Error(`read_committed consumer saw ${JSON.stringify(seen)}`);
    const committed = await pltCommitted(group, input);
    if (committed[0] !== 5) throw new Error(`group offset is ${committed[0]}, expected 5 (the aborted offset must not count)`);
    return `read_committed saw 5 records, no aborted one; group offset 5`;
  });
  for (const [label, partitioner] of [['default partitioner', undefined], ['compatibilityPartitioner', compatibilityPartitioner]] as const) {
    await check('@platformatic/kafka', `${PARTITIONER_CHECK}, ${label}`, async () => {
      const t = `bench.part.plt.${uid()}`;
      await pltTopic(t, 6);
      const p = new Producer({ ...base, clientId: 'bench-platformatic', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL, ...(partitioner ? { partitioner: partitioner as Partitioner<string, string, string, string> } : {}) });
      await p.send({ messages: Array.from({ length: 200 }, (_, i) => ({ topic: t, key: `k${i}`, value: 'x' })) });
      await p.close();
      const m = await pltMember(`bench.g.${uid()}`, t, false);
      await until('200 records', () => m.records.length >= 200);
      await m.consumer.close(true);
      return partitionMismatches(m.records.map((r) => ({ key: r.key, partition: r.partition })));
    }, true);
  }
}

async function platformaticThroughput(): Promise<Rates> {
  const topic = `bench.tp.plt.${uid()}`;
  await pltTopic(topic, 3);
  const p = new Producer({ ...base, clientId: 'bench-platformatic', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL });
  let t = performance.now();
  let cpu = cpuNow();
  for (let i = 0; i < N; i += BATCH) {
    await p.send({ messages: Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => ({ topic, key: `k${(i + j) % 100}`, value: value150 })) });
  }
  const produce = N / ((performance.now() - t) / 1000);
  const produceCpu = (cpuNow() - cpu) / N;
  await p.close();
  let seen = 0, first = 0;
  t = performance.now();
  cpu = cpuNow();
  const c = new Consumer({ ...base, clientId: `bench-platformatic-${uid()}`, groupId: `bench.g.${uid()}`, deserializers: stringDeserializers, maxWaitTime: 500, maxBytesPerPartition: 1 << 20 });
  const stream = await c.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  stream.on('data', () => { if (seen === 0) first = performance.now(); seen++; });
  await until(`${N} records`, () => seen >= N, 120_000);
  const end = performance.now();
  const consumeCpu = (cpuNow() - cpu) / N;
  const consumeWithJoin = N / ((end - t) / 1000);
  await c.close(true);
  // Transactions: records + addOffset (TxnOffsetCommit v4 with the member's generation) + commit.
  const output = `bench.tx.plt.${uid()}`;
  await pltTopic(output, 3);
  const m = await pltMember(`bench.g.${uid()}`, topic, false);
  await until('a record with its group metadata', () => m.records.length > 0);
  const read = m.records[0]!;
  const tp = new Producer({ ...base, clientId: 'bench-platformatic-tx', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL, transactionalId: `bench-tx-${uid()}` });
  t = performance.now();
  cpu = cpuNow();
  for (let i = 0; i < TXNS; i++) {
    const tx = await tp.beginTransaction();
    await tx.send({ messages: txRecords(output, i) });
    await tx.addConsumer(m.consumer);
    await tx.addOffset(read);
    await tx.commit();
  }
  const tx = TXNS / ((performance.now() - t) / 1000), txCpu = (cpuNow() - cpu) / TXNS;
  await tp.close();
  await m.consumer.close(true);
  return { produce, consume: N / ((end - first) / 1000), consumeWithJoin, produceCpu, consumeCpu, tx, txCpu };
}

// ---------------------------------------------------------------- stream/kafka/client.ts (kafkajs inside)

async function moduleThroughput(): Promise<Rates> {
  const s = kafkaSettings('bench-module');
  const topic = `bench.tp.module.${uid()}`;
  await ensureTopics(s, [{ name: topic, partitions: 3 }]);
  const p = await BatchProducer.connect(s);
  let t = performance.now();
  let cpu = cpuNow();
  for (let i = 0; i < N; i += BATCH) {
    await p.send(Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => ({ topic, key: `k${(i + j) % 100}`, value: value150 })));
  }
  const produce = N / ((performance.now() - t) / 1000);
  const produceCpu = (cpuNow() - cpu) / N;
  await p.close();
  let seen = 0, first = 0;
  let generation: InBatch['generation'] | undefined;
  t = performance.now();
  cpu = cpuNow();
  const c = await BatchConsumer.start(s, { groupId: `bench.g.${uid()}`, topics: [topic], commit: 'none', onBatch: (b) => { if (seen === 0) first = performance.now(); seen += b.records.length; generation = b.generation; } });
  await until(`${N} records`, () => seen >= N, 120_000);
  const end = performance.now();
  const consumeCpu = (cpuNow() - cpu) / N;
  const consumeWithJoin = N / ((end - t) / 1000);
  // Transactions through the module: what a worker commits per step (records, then its offsets).
  const output = `bench.tx.module.${uid()}`;
  await ensureTopics(s, [{ name: output, partitions: 3 }]);
  const tp = await TransactionalProducer.connect(s, `bench-tx-${uid()}`);
  t = performance.now();
  cpu = cpuNow();
  for (let i = 0; i < TXNS; i++) await tp.commit(txRecords(output, i), { generation: generation!, topic, partitions: [{ partition: 0, offset: i + 1 }] });
  const tx = TXNS / ((performance.now() - t) / 1000), txCpu = (cpuNow() - cpu) / TXNS;
  await tp.close();
  await c.stop();
  return { produce, consume: N / ((end - first) / 1000), consumeWithJoin, produceCpu, consumeCpu, tx, txCpu };
}

// ---------------------------------------------------------------- run

const clients = opt.client === 'both' ? ['kafkajs', 'platformatic'] : opt.client === 'all' ? ['kafkajs', 'platformatic', 'module'] : [opt.client!];
if (clients.some((c) => !['kafkajs', 'platformatic', 'module'].includes(c))) {
  console.error(`--client ${opt.client}: expected kafkajs, platformatic, module, both (default) or all`);
  process.exit(2);
}
if (!opt['throughput-only']) {
  if (clients.includes('kafkajs')) await kafkajsChecks();
  if (clients.includes('platformatic')) await platformaticChecks();
}
const table: string[] = [];
if (!opt['checks-only']) {
  for (const c of clients) {
    const rounds: Rates[] = [];
    for (let r = 0; r < Number(opt.rounds); r++) {
      const rates = c === 'kafkajs' ? await kafkajsThroughput() : c === 'platformatic' ? await platformaticThroughput() : await moduleThroughput();
      rounds.push(rates);
      console.error(`${c} round ${r + 1}: produce ${Math.round(rates.produce)}/s (${rates.produceCpu.toFixed(1)} µs CPU/record), consume ${Math.round(rates.consume)}/s (${rates.consumeCpu.toFixed(1)} µs CPU/record; incl. join ${Math.round(rates.consumeWithJoin)}/s), ${Math.round(rates.tx)} transactions/s (${(rates.txCpu / 1000).toFixed(2)} ms CPU each)`);
    }
    const med = (k: keyof Rates) => { const v = rounds.map((x) => x[k]).sort((a, b) => a - b); return Math.round(v[Math.floor(v.length / 2)]!); };
    const range = (k: keyof Rates) => `${Math.round(Math.min(...rounds.map((x) => x[k])) / 1000)}k-${Math.round(Math.max(...rounds.map((x) => x[k])) / 1000)}k`;
    const medF = (k: keyof Rates, digits: number, scale = 1) => { const v = rounds.map((x) => x[k] / scale).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]!.toFixed(digits); };
    table.push(`| ${c} | ${med('produce')} (${range('produce')}) | ${medF('produceCpu', 1)} | ${med('consume')} (${range('consume')}) | ${medF('consumeCpu', 1)} | ${med('consumeWithJoin')} (${range('consumeWithJoin')}) | ${med('tx')} | ${medF('txCpu', 2, 1000)} |`);
  }
}
console.log(`\nchecks against ${brokers.join(',')}:`);
for (const c of checks) console.log(`- ${c.ok ? 'ok' : c.informational ? 'note' : 'FAILED'}: ${c.check}: ${c.detail}`);
if (table.length > 0) {
  console.log(`\nthroughput, ${N} records of 150 B, batches of ${BATCH}, 3 partitions, median of ${opt.rounds} (range), records/s:`);
  console.log(`(${TXNS} transactions of 10 records + the group's offset; CPU = this process's user+system time)`);
  console.log('| client | produce/s | produce CPU µs/record | consume/s | consume CPU µs/record | consume/s incl. group join | transactions/s | CPU ms/transaction |\n|---|---|---|---|---|---|---|---|');
  for (const row of table) console.log(row);
}
process.exit(checks.some((c) => !c.ok && !c.informational) ? 1 : 0);
