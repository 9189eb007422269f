/**
 * kafkajs 2.2.4 used directly: its checks (keyed produce, group read + commit, rebalance, transactions
 * with read_committed, Java partitioner) and one throughput round (produce, consume, transactions).
 */
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import {
  BATCH, brokers, check, cpuNow, GROUP_COMMIT_CHECK, groupReadsAndCommits, PARTITIONER_CHECK, partitionMismatches, readCommittedOutcome, rebalance, REBALANCE_CHECK, txRecords, uid, until, value150, type Rates, type Sizes,
} from './shared.ts';

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

const kjsLeave = (m: Awaited<ReturnType<typeof kjsMember>>) => m.consumer.disconnect();

export async function kafkajsChecks(): Promise<void> {
  const topic = `bench.check.kjs.${uid()}`;
  await check('kafkajs', 'produce 1,000 keyed records (acks=all, idempotent)', async () => {
    await kjsTopic(topic, 4);
    const p = kjs.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.sendBatch({ acks: -1, topicMessages: [{ topic, messages: Array.from({ length: 1000 }, (_, i) => ({ key: `k${i % 10}`, value: String(i) })) }] });
    await p.disconnect();
    return 'sent';
  });
  await check('kafkajs', GROUP_COMMIT_CHECK, () => groupReadsAndCommits((group) => kjsMember(group, topic, true), kjsLeave, (group) => kjsCommitted(group, topic)));
  await check('kafkajs', REBALANCE_CHECK, () => rebalance((group) => kjsMember(group, topic, true), kjsLeave));
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
    return readCommittedOutcome(reader, kjsLeave, () => kjsCommitted(group, input), 'sendOffsets');
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

export async function kafkajsThroughput({ n: N, transactions: TXNS }: Sizes): Promise<Rates> {
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
