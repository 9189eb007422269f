/**
 * Kafka client throughput through stream/kafka/client.ts (kafkajs) against the local broker:
 * 200k records of ~150 bytes, produced in batches of 5,000 (acks = all, idempotent), then consumed
 * by a fresh consumer group. Run: `npx tsx bench/kafka-client.ts` after `npm run infra:up`.
 */
import { randomUUID } from 'node:crypto';
import { BatchConsumer, BatchProducer, ensureTopics, kafkaSettings } from '../stream/kafka/client.ts';

const N = Number(process.env.N ?? 200_000);
const s = kafkaSettings('concord-bench');
const topic = `bench.client.${randomUUID().slice(0, 8)}`;
await ensureTopics(s, [{ name: topic, partitions: 3 }]);
const value = 'x'.repeat(150);
const producer = await BatchProducer.connect(s);
let t = performance.now();
for (let i = 0; i < N; i += 5_000) {
  await producer.send(Array.from({ length: Math.min(5_000, N - i) }, (_, j) => ({ topic, key: `k${(i + j) % 100}`, value })));
}
const produceRate = N / ((performance.now() - t) / 1000);
await producer.close();
let seen = 0;
t = performance.now();
let done!: () => void;
const finished = new Promise<void>((r) => (done = r));
const consumer = await BatchConsumer.start(s, { groupId: `bench-${topic}`, topics: [topic], onBatch: (b) => { seen += b.records.length; if (seen >= N) done(); } });
await finished;
const consumeRate = N / ((performance.now() - t) / 1000);
await consumer.stop();
console.log(JSON.stringify({ records: N, produce_per_s: Math.round(produceRate), consume_per_s_including_group_join: Math.round(consumeRate) }));
