/**
 * Kafka client check and throughput: kafkajs 2.2.4 and @platformatic/kafka 2.x, each used directly
 * (this script compares the libraries, so it and bench/kafka-client/ are the one place besides stream/kafka/client.ts that
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
 *
 * This file parses the arguments, runs the chosen clients and prints the report; the clients live in
 * bench/kafka-client/ (kafkajs.ts, platformatic.ts, module-client.ts; shared.ts holds the helpers).
 */
import { parseArgs } from 'node:util';
import { kafkajsChecks, kafkajsThroughput } from './kafka-client/kafkajs.ts';
import { moduleThroughput } from './kafka-client/module-client.ts';
import { platformaticChecks, platformaticThroughput } from './kafka-client/platformatic.ts';
import { BATCH, brokers, checks, type Rates, type Sizes } from './kafka-client/shared.ts';

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
const N = Number(opt.n);
const TXNS = Number(opt.transactions);
const sizes: Sizes = { n: N, transactions: TXNS };

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
      const rates = c === 'kafkajs' ? await kafkajsThroughput(sizes) : c === 'platformatic' ? await platformaticThroughput(sizes) : await moduleThroughput(sizes);
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
