/**
 * `npm run bench [-- --quick | --tiny] [--only stream,replay,reconcile,hll,emit,store,growth,kafka]`
 * Concord next to its peers in the same run, on this machine; prints Markdown and writes it to
 * bench/results/<mode>.md (and .json). Definitions of every figure: docs/benchmarks.md.
 *   --tiny   seconds, for the CI smoke test (small data, no Kafka)
 *   --quick  under 5 minutes (1M events; replay and reconcile of 1M and 10M; Kafka at 200k)
 *   (none)   the full run (replay and reconcile of 10M and 100M; growth to 100M events and 1M keys; Kafka at 1M)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { emitDelay } from './emit-delay.ts';
import { growthRow, type GrowthRow } from './growth.ts';
import { sketchMarkdown, sketchMemory, type SketchMemory } from './hll-memory.ts';
import { figuresMarkdown, type Figure } from './measure.ts';
import { reconcileArchive } from './reconcile-archive.ts';
import { DUCKDB_BENCH, replayVsSql, writeSyntheticArchive } from './replay-vs-sql.ts';
import { streamThroughput } from './stream-throughput.ts';
import { clickEvents, clickEventStream, clickLines, DEFAULT_SHAPE } from './synthetic.ts';

const { values: opt } = parseArgs({ options: { quick: { type: 'boolean' }, tiny: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } });
if (opt.help) {
  process.stdout.write('npm run bench [-- --quick | --tiny] [--only stream,replay,reconcile,hll,emit,store,growth,kafka] [--out DIR]\n');
  process.exit(0);
}
const mode = opt.tiny ? 'tiny' : opt.quick ? 'quick' : 'full';
const only = opt.only ? new Set(opt.only.split(',')) : undefined;
const want = (name: string) => !only || only.has(name);
const say = (text: string) => process.stderr.write(`bench: ${text}\n`);
const workDir = join('.bench', mode);
await mkdir(workDir, { recursive: true });

const sizes = {
  tiny: { stream: 20_000, rounds: 1, replay: [50_000], reconcile: [20_000], hll: [1_000, 10_000], hllWindows: 3, emit: 20_000, growth: [[20_000, 100]] },
  quick: { stream: 1_000_000, rounds: 3, replay: [1_000_000, 10_000_000], reconcile: [1_000_000, 10_000_000], hll: [1_000, 10_000, 100_000], hllWindows: 10, emit: 1_000_000, growth: [[1_000_000, 1_000], [1_000_000, 100_000]] },
  full: {
    stream: 5_000_000, rounds: 3, replay: [10_000_000, 100_000_000], reconcile: [10_000_000, 100_000_000], hll: [1_000, 10_000, 100_000, 1_000_000], hllWindows: 10, emit: 2_000_000,
    growth: [[1_000_000, 1_000], [10_000_000, 1_000], [100_000_000, 1_000], [10_000_000, 100_000], [10_000_000, 1_000_000]],
  },
}[mode];

const figures: Figure[] = [];
const sections: string[] = [];
const started = Date.now();

if (want('stream')) {
  say(`stream throughput over ${sizes.stream.toLocaleString('en-US')} events (best of ${sizes.rounds} after a warm-up)`);
  const events = clickEvents(sizes.stream);
  const lines = clickLines(events);
  figures.push(...(await streamThroughput(events, lines, sizes.rounds)));
}

if (want('replay')) {
  for (const n of sizes.replay) {
    say(`replay vs raw SQL over ${n.toLocaleString('en-US')} archived events (writing the archive first)`);
    const dir = join(workDir, `archive-${n}`);
    await writeSyntheticArchive(dir, n);
    figures.push(...(await replayVsSql(dir, n)));
  }
}

if (want('reconcile')) {
  for (const n of sizes.reconcile) {
    say(`reconcile over ${n.toLocaleString('en-US')} archived events`);
    const dir = join(workDir, `archive-${n}`);
    await writeSyntheticArchive(dir, n);
    figures.push(...(await reconcileArchive(dir, n, { withoutLateLog: n <= 1_000_000 })));
  }
}

if (want('hll')) {
  say('HLL sketch memory and error vs an exact Set');
  const rows: SketchMemory[] = sizes.hll.map((d) => sketchMemory(d, sizes.hllWindows));
  sections.push('### Unique-visitor sketch per window (HyperLogLog, p = 14) vs an exact Set\n\n' + sketchMarkdown(rows));
}

if (want('emit')) {
  say('emit delay (watermark passes a window end -> result committed in the store)');
  const rows: string[] = [];
  for (const sink of ['file', 'store'] as const) {
    for (const batch of [100, 1_000, 10_000]) {
      // 100 events per simulated second: a minute window every 6,000 events.
      const target = sink === 'file' ? { file: join(workDir, `emit-${batch}.jsonl`) } : { storeUrl: `duckdb:${join(workDir, `emit-${batch}-${Date.now()}.duckdb`)}` };
      (globalThis as { gc?: () => void }).gc?.(); // the earlier sections' garbage is not this run's pause
      const d = await emitDelay(clickEventStream(sizes.emit, { ...DEFAULT_SHAPE, perSecond: 100 }), batch, target);
      rows.push(`| ${sink === 'file' ? 'JSONL file (write + fsync)' : 'result store (embedded DuckDB, committed)'} | ${batch.toLocaleString('en-US')} | ${d.windows.toLocaleString('en-US')} | ${d.p50Ms.toFixed(2)} ms | ${d.p99Ms.toFixed(2)} ms | ${d.maxMs.toFixed(2)} ms |`);
    }
  }
  sections.push(['### Emit delay (page views per minute; the sink commits after each batch)', '', '| sink | events per batch | results fired | p50 | p99 | max |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n'));
}

if (want('store')) {
  const { storeBenchmarks } = await import('./store-bench.ts');
  say('the store: the demo\'s stream step into each store vs the stream alone; backfill of a reconciled day with every cell, then 2% of its cells, dirty');
  sections.push(await storeBenchmarks(mode, workDir));
}

if (want('growth')) {
  const rows: GrowthRow[] = [];
  for (const [events, keys] of sizes.growth) {
    say(`growth: ${events!.toLocaleString('en-US')} events, ${keys!.toLocaleString('en-US')} keys`);
    rows.push(growthRow(events!, keys!));
  }
  sections.push(['### Growth (both click pipelines, decoded events generated on the fly; child process per row)', '',
    '| events | distinct urls | time | events/s | peak RSS | results |', '|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.events.toLocaleString('en-US')} | ${r.keys.toLocaleString('en-US')} | ${r.seconds.toFixed(2)} s | ${(r.events / r.seconds / 1e6).toFixed(2)}M/s | ${r.peakRssMiB} MiB | ${r.results.toLocaleString('en-US')} |`)].join('\n'));
}

if (want('kafka') && mode !== 'tiny') {
  const { kafkaEndToEnd } = await import('./kafka-e2e.ts');
  say('end to end through the local Kafka broker: Concord worker vs a Kafka Streams app and a Flink job');
  sections.push(await kafkaEndToEnd(mode === 'full' ? 1_000_000 : 200_000, workDir));
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end; DuckDB threads ${DUCKDB_BENCH.threads}, memory_limit ${DUCKDB_BENCH.memoryLimit}`;
const md = [`## Run: \`npm run bench${mode === 'full' ? '' : ` -- --${mode}`}\` (${new Date().toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s)`, '', machine, '',
  ...(figures.length > 0 ? [figuresMarkdown(figures), ''] : []), ...sections.flatMap((s) => [s, ''])].join('\n');
const outDir = opt.out ?? join('bench', 'results');
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, `${mode}.md`), md);
await writeFile(join(outDir, `${mode}.json`), JSON.stringify({ mode, machine, figures, sections }, null, 2) + '\n');
process.stdout.write(md + '\n');
