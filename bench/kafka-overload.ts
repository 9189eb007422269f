/**
 * Overload: the producer far ahead of the worker (the whole input is already in the topic when the
 * worker starts, the fastest a producer can be). Reports the worker's peak RSS (VmHWM) by input size and
 * key count, so memory that grows with input (not with keys x open windows) shows.
 * Usage: tsx bench/kafka-overload.ts [--sizes 200000,1000000] [--keys 1000,100000]   (a broker on KAFKA_BROKERS)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { clicksSchema } from '../examples/seed.ts';
import { BatchProducer, ensureTopics, kafkaSettings, type OutRecord } from '../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../stream/kafka/topics.ts';

const { values: opt } = parseArgs({ options: { sizes: { type: 'string' }, keys: { type: 'string' }, help: { type: 'boolean' } } });
if (opt.help) {
  process.stdout.write('tsx bench/kafka-overload.ts [--sizes 200000,1000000] [--keys 1000,100000]\n');
  process.exit(0);
}
const sizes = (opt.sizes ?? '200000,1000000').split(',').map(Number);
const keyCounts = (opt.keys ?? '1000,100000').split(',').map(Number);
const root = fileURLToPath(new URL('..', import.meta.url));
const s = kafkaSettings('concord-bench-overload');
const T0 = Date.parse('2026-11-23T00:00:00Z');
const PARTITIONS = 3;

async function produce(prefix: string, events: number, keys: number): Promise<void> {
  await ensureTopics(s, concordTopics([clicksSchema], PARTITIONS, prefix));
  const topic = topicNames(prefix).input('clicks');
  const producer = await BatchProducer.connect(s);
  try {
    for (let i = 0; i < events; i += 20_000) {
      const records: OutRecord[] = [];
      // 1,000 events a second of event time: a day of minutes, every key in many windows.
      for (let j = i; j < Math.min(events, i + 20_000); j++) {
        const url = `/u/${j % keys}`;
        records.push({ topic, key: url, value: `{"event_id":"e${j}","ts":${T0 + j},"url":"${url}","visitor_id":"v${j % 977}"}` });
      }
      await producer.send(records);
    }
  } finally {
    await producer.close();
  }
}

/** Runs a worker to the end of the topic; its peak RSS from /proc (sampled: VmHWM of the node process). */
async function runWorker(prefix: string): Promise<{ seconds: number; peakMb: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'page_views_per_minute', '--worker-id', `ov-${prefix}`, '--stop-when-idle', '3s'],
    { cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: String(PARTITIONS) }, stdio: ['ignore', 'ignore', 'inherit'] });
  let peak = 0;
  const sample = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
    } catch { /* exited */ }
  }, 200);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(sample);
  if (code !== 0) throw new Error(`worker exited with ${code}`);
  return { seconds: (Date.now() - started) / 1000, peakMb: peak };
}

const rows: string[] = ['| events in the topic | distinct keys | worker time (s) | events/s | peak RSS (MB) |', '|---:|---:|---:|---:|---:|'];
for (const keys of keyCounts) {
  for (const events of sizes) {
    const prefix = `ov${randomUUID().slice(0, 6)}.`;
    await produce(prefix, events, keys);
    const r = await runWorker(prefix);
    rows.push(`| ${events.toLocaleString('en-US')} | ${keys.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${Math.round(events / r.seconds).toLocaleString('en-US')} | ${r.peakMb.toFixed(0)} |`);
    process.stderr.write(`${rows.at(-1)}\n`);
  }
}
process.stdout.write(`${rows.join('\n')}\n`);
