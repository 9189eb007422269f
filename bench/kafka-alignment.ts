/**
 * `tsx bench/kafka-alignment.ts [clicks=1000000] [--drift 10m] [--runs 2] [--pipeline unique_visitors_5m]`:
 * watermark alignment in a skewed backfill, through the local broker. One topic of 4 partitions over the
 * same 12 hours of event time: partition 0 holds 40% of the clicks, partitions 1-3 20% each (a fetch
 * takes the same bytes from each, so 1-3 run through event time twice as fast). Then `concord run
 * --pipeline P --stop-when-idle 1s` (default: unique_visitors_5m, merged across partitions, where the
 * spread holds state), each run on its own copy of the topic, alternating without and with `--max-watermark-drift`.
 * Prints per run: wall time, peak RSS of the process, the worker's and the merge stage's checkpoint KiB
 * per transaction, the worker's commit ms, the largest event-time spread and the pauses (final lines).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seedRegistry } from '../examples/seed.ts';
import { BatchProducer, ensureTopics, kafkaSettings } from '../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../stream/kafka/topics.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: opt, positionals } = parseArgs({ allowPositionals: true, options: { drift: { type: 'string' }, runs: { type: 'string' }, pipeline: { type: 'string' }, help: { type: 'boolean' } } });
if (opt.help) {
  process.stdout.write('tsx bench/kafka-alignment.ts [clicks=1000000] [--drift 10m] [--runs 2] [--pipeline unique_visitors_5m]\n');
  process.exit(0);
}
const n = Number(positionals[0] ?? 1_000_000);
const drift = opt.drift ?? '10m';
const runs = Number(opt.runs ?? 2);
const pipeline = opt.pipeline ?? 'unique_visitors_5m';
const SHARES = [0.4, 0.2, 0.2, 0.2];
const HOURS = 12;
const START = Date.UTC(2026, 10, 23);
const s = kafkaSettings('concord-bench-align');

async function produce(prefix: string): Promise<void> {
  await ensureTopics(s, concordTopics(seedRegistry(), SHARES.length, prefix));
  const topic = topicNames(prefix).input('clicks');
  const producer = await BatchProducer.connect(s);
  let id = 0;
  for (const [p, share] of SHARES.entries()) {
    const count = Math.round(n * share);
    for (let from = 0; from < count; from += 5_000) {
      const records = [];
      for (let i = from; i < Math.min(count, from + 5_000); i++) {
        const ts = START + Math.floor((i * HOURS * 3_600_000) / count);
        const url = `/p${p}/u${i % 200}`; // a url lives in one partition, as produce keys them
        records.push({ topic, partition: p, key: url, value: JSON.stringify({ event_id: `c${id++}`, ts, url, visitor_id: `v${i % 5_000}` }) });
      }
      await producer.send(records);
    }
  }
  await producer.close();
}

/** Peak resident set of a process so far (VmHWM), KiB; 0 once it is gone. */
function peakRssKiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function run(prefix: string, aligned: boolean): Promise<Record<string, string | number>> {
  const args = ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', pipeline, '--stop-when-idle', '1s', '--worker-id', 'bench', '--group', `${prefix}g${randomUUID().slice(0, 6)}`];
  if (aligned) args.push('--max-watermark-drift', drift);
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let peak = 0;
  child.stderr.on('data', (d) => { stderr += String(d); });
  const poll = setInterval(() => { peak = Math.max(peak, peakRssKiB(child.pid!)); }, 100);
  const code = await new Promise<number | null>((ok) => child.on('exit', ok));
  clearInterval(poll);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`concord run exited with ${code}: ${stderr.slice(-4_000)}`);
  const final = /(\d+) events, .*per transaction: ([\d.]+) KiB of checkpoints, commit ([\d.]+) ms(?:; alignment: (\d+) pauses)?; event-time spread at most (\d+) s/.exec(stderr);
  if (!final) throw new Error(`no final line in: ${stderr.slice(-4_000)}`);
  const merge = /merge .*per transaction: ([\d.]+) KiB of checkpoints/.exec(stderr);
  return {
    run: aligned ? `--max-watermark-drift ${drift}` : 'no alignment', seconds: Number(seconds.toFixed(1)), events: Number(final[1]),
    peakRssMiB: Math.round(peak / 1024), checkpointKiBPerTxn: Number(final[2]), mergeCheckpointKiBPerTxn: merge ? Number(merge[1]) : '-', commitMs: Number(final[3]),
    spreadMin: Number((Number(final[5]) / 60).toFixed(1)), pauses: Number(final[4] ?? 0),
  };
}

const rows: Record<string, string | number>[] = [];
for (let i = 0; i < runs; i++) {
  for (const aligned of [false, true]) {
    // A topic prefix per run: the merge stage's partials topic must hold this run's partials only.
    const prefix = `balign${randomUUID().slice(0, 6)}.`;
    process.stderr.write(`${pipeline}: producing ${n} clicks into ${prefix}clicks (4 partitions, shares ${SHARES.join('/')}, ${HOURS} h of event time)\n`);
    await produce(prefix);
    const row = await run(prefix, aligned);
    process.stderr.write(`${JSON.stringify(row)}\n`);
    rows.push(row);
  }
}
const cols = ['run', 'seconds', 'peakRssMiB', 'checkpointKiBPerTxn', 'mergeCheckpointKiBPerTxn', 'commitMs', 'spreadMin', 'pauses'];
process.stdout.write(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n${rows.map((r) => `| ${cols.map((c) => r[c]).join(' | ')} |`).join('\n')}\n`);
