/**
 * One throughput round through the project's own client module, stream/kafka/client.ts (what Concord
 * runs): produce, consume and transactional commits, measured like the libraries used directly.
 */
import { BatchConsumer, BatchProducer, TransactionalProducer, ensureTopics, kafkaSettings, type InBatch } from '../../stream/kafka/client.ts';
import { BATCH, cpuNow, txRecords, uid, until, value150, type Rates, type Sizes } from './shared.ts';

export async function moduleThroughput({ n: N, transactions: TXNS }: Sizes): Promise<Rates> {
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
