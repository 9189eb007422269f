import { generateDay } from '../../generate/realistic-day.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { parseDuration } from '../../pipeline/time.ts';
import { BatchProducer, ensureTopics, kafkaSettings, type OutRecord } from '../../stream/kafka/client.ts';
import { concordTopics, defaultPartitions, inputTopic, topicKeyField } from '../../stream/kafka/topics.ts';
import type { CommandSpec } from '../args.ts';
import { Progress } from '../progress.ts';

function parseRate(text: string): number {
  const m = /^(\d+)(?:\/s)?$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new ConfigError(`--rate: "${text}" is not a rate; use e.g. 5000/s`);
  return Number(m[1]);
}

function parseFraction(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(`${flag}: "${text}" must be a fraction between 0 and 1`);
  return n;
}

export const produceCommand: CommandSpec = {
  name: 'produce',
  summary: 'load generator: realistic, seeded clicks or transactions into Kafka',
  usage: 'concord produce --schema clicks|transactions (--count N | --duration 10m) [--rate N/s] [--disorder 20s] [--late-fraction 0.005] [--fraud-rings K] [--seed 42]',
  options: [
    '--schema NAME              clicks (keyed by url) | transactions (keyed by user_id)',
    '--count N                  events to send',
    '--duration D               or: send for D at --rate (count = rate x duration)',
    '--rate N/s                 events per second (default: as fast as the broker takes them)',
    '--disorder D               out-of-order delay bound for 2% of events (default 20s)',
    '--late-fraction F          fraction delivered late beyond B + L, "offline mobile clients" (default 0.005)',
    '--fraud-rings K            transactions: groups of cards used from many countries (default 5)',
    '--invalid-fraction F       fraction of malformed lines, to exercise the dead-letter output (default 0)',
    '--seed N                   generator seed (default 42); --date YYYY-MM-DD event day (default yesterday UTC)',
    '--partitions N             partitions when topics are created (default 6, env CONCORD_PARTITIONS)',
    '                           brokers: env KAFKA_BROKERS (default 127.0.0.1:9092)',
  ],
  flags: {
    schema: { type: 'string' }, count: { type: 'string' }, duration: { type: 'string' }, rate: { type: 'string' },
    disorder: { type: 'string' }, 'late-fraction': { type: 'string' }, 'fraud-rings': { type: 'string' },
    seed: { type: 'string' }, date: { type: 'string' }, partitions: { type: 'string' }, 'invalid-fraction': { type: 'string' },
  },
  required: ['schema'],
  async run(v) {
    const schema = String(v.schema);
    if (schema !== 'clicks' && schema !== 'transactions') throw new ConfigError(`--schema must be clicks or transactions, got "${schema}"`);
    const rate = v.rate === undefined ? undefined : parseRate(String(v.rate));
    let count: number;
    if (v.count !== undefined) count = Number(v.count);
    else if (v.duration !== undefined && rate !== undefined) count = Math.round((rate * parseDuration(String(v.duration), '--duration')) / 1000);
    else throw new ConfigError('give --count N, or --duration D with --rate N/s');
    if (!Number.isInteger(count) || count <= 0) throw new ConfigError(`--count must be a positive integer, got ${String(v.count)}`);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const day = generateDay({
      seed: Number(v.seed ?? 42),
      date: String(v.date ?? yesterday),
      clicks: schema === 'clicks' ? count : 0,
      transactions: schema === 'transactions' ? count : 0,
      fraudRings: schema === 'transactions' ? Number(v['fraud-rings'] ?? 5) : 0,
      maxOutOfOrderness: parseDuration(String(v.disorder ?? '20s'), '--disorder'),
      lateFraction: parseFraction(String(v['late-fraction'] ?? '0.005'), '--late-fraction'),
      invalidFraction: parseFraction(String(v['invalid-fraction'] ?? '0'), '--invalid-fraction'),
    });
    const lines = schema === 'clicks' ? day.clicks : day.transactions;
    const s = kafkaSettings('concord-produce');
    await ensureTopics(s, concordTopics(v.partitions === undefined ? defaultPartitions() : Number(v.partitions)));
    const producer = await BatchProducer.connect(s);
    const progress = new Progress(`produce ${schema}`, lines.length);
    const keyField = topicKeyField[schema]!;
    const topic = inputTopic(schema);
    const started = Date.now();
    const batch = 2_000;
    try {
      for (let i = 0; i < lines.length; i += batch) {
        const records: OutRecord[] = lines.slice(i, i + batch).map((value) => {
          let key: string | null = null;
          try {
            const k = (JSON.parse(value) as Record<string, unknown>)[keyField];
            key = typeof k === 'string' ? k : null;
          } catch {
            key = null; // malformed lines still go to the topic: the workers dead-letter them
          }
          return { topic, key, value };
        });
        await producer.send(records);
        const sent = Math.min(lines.length, i + batch);
        progress.update(sent);
        if (rate !== undefined) {
          // Pace to the requested rate: wait until the time this many events are due.
          const due = started + (sent / rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
      }
    } finally {
      await producer.close();
    }
    const secs = (Date.now() - started) / 1000;
    progress.done(lines.length);
    process.stderr.write(
      `sent ${lines.length} ${schema} events to topic "${topic}" in ${secs.toFixed(1)} s (${Math.round(lines.length / secs)}/s): ` +
        `${day.stats.outOfOrder} out of order, ${day.stats.late} late, ${day.stats.invalid} malformed${schema === 'transactions' ? `, ${day.stats.fraudUsers} fraud-ring users` : ''}\n`,
    );
    return 0;
  },
};
