/**
 * @platformatic/kafka 2.x used directly: its checks (keyed produce, group read + commit, rebalance,
 * transactions with read_committed, Java partitioner with the default and compatibility partitioners)
 * and one throughput round (produce, consume, transactions).
 */
import {
  Admin, compatibilityPartitioner, Consumer, FetchIsolationLevels, ProduceAcks, Producer, stringDeserializers, stringSerializers, type Message, type Partitioner,
} from '@platformatic/kafka';
import {
  BATCH, brokers, check, cpuNow, GROUP_COMMIT_CHECK, groupReadsAndCommits, PARTITIONER_CHECK, partitionMismatches, readCommittedOutcome, rebalance, REBALANCE_CHECK, txRecords, uid, until, value150, type Rates, type Sizes,
} from './shared.ts';

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

const pltLeave = (m: Awaited<ReturnType<typeof pltMember>>) => m.consumer.close(true);

export async function platformaticChecks(): Promise<void> {
  const topic = `bench.check.plt.${uid()}`;
  await check('@platformatic/kafka', 'produce 1,000 keyed records (acks=all, idempotent)', async () => {
    await pltTopic(topic, 4);
    const p = new Producer({ ...base, clientId: 'bench-platformatic', serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL });
    await p.send({ messages: Array.from({ length: 1000 }, (_, i) => ({ topic, key: `k${i % 10}`, value: String(i) })) });
    await p.close();
    return 'sent';
  });
  await check('@platformatic/kafka', GROUP_COMMIT_CHECK, () => groupReadsAndCommits(
    (group) => pltMember(group, topic, true), pltLeave, (group) => pltCommitted(group, topic),
    () => until('autocommit', () => false, 400).catch(() => undefined), // autocommit runs every 100 ms
  ));
  await check('@platformatic/kafka', REBALANCE_CHECK, () => rebalance((group) => pltMember(group, topic, true), pltLeave));
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
    return readCommittedOutcome(reader, pltLeave, () => pltCommitted(group, input), 'offset');
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

export async function platformaticThroughput({ n: N, transactions: TXNS }: Sizes): Promise<Rates> {
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
