/**
 * `npm run chaos`: the fault matrix (docs/operations.md, "Fault matrix"). Runs a seeded day through the real CLI
 * twice on its own broker, Redis, PostgreSQL databases and archive mount: once without faults, once with faults
 * injected at seeded random moments; compares the two and prints one table. Exit 1 on any event lost or doubled,
 * or any difference reconcile could not explain; exit 2 on bad arguments.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { seedRegistry } from '../examples/seed.ts';
import { mdCell, mdRow } from '../reconcile/markdown.ts';
import { compareArchive, compareLive, compareSink, compareStream, differingCells, lateSummary, readRun, unexplainedOf, type Comparison, type RunState } from './chaos/measure.ts';
import { brokerDown, brokerUp, createDatabase, dropDatabase, mountSmallDisk, OwnRedis, unmount, type BrokerConfig } from './chaos/own-infra.ts';
import { Logs, seededRandom } from './chaos/procs.ts';
import { runDay, type Fault, type FaultOutcome, type FaultPlan } from './chaos/run-day.ts';
import { projectRoot } from './settings.ts';

const HELP = `npm run chaos [-- --quick] [--seed N] [--keep]

The fault matrix: a seeded day through the real CLI (produce -> two \`concord run\` workers in one group
-> \`archive --from-kafka\` per schema + \`sink --from-kafka\` into PostgreSQL -> the nightly job -> \`reconcile\`),
once without faults and once with faults at seeded random moments, on its own Kafka broker
(KAFKA_PORT 19192 / controller 19193, env CHAOS_KAFKA_PORT), its own redis-server (port 16380, env
CHAOS_REDIS_PORT), its own PostgreSQL databases (chaos_<id>_*) and, as root, a tmpfs for the archive.
Prints one table; exits 1 on any event lost or doubled or any difference reconcile left unexplained.
The full run then fuzzes hostile inputs at scale (~100k: stream, archive and a Kafka worker).

Options:
  --quick       the CI variant (env CONCORD_CHAOS=quick): 30k clicks, a few faults of each kind
  --seed N      the day's and the fault schedule's seed (default 7)
  --keep        keep the databases, the archive and the chaos broker running (for a look afterwards)
  --help        show this help
Logs of every process: .concord/chaos/<id>/*.log`;

const FAULT_ROWS: { fault: Fault; label: string; measure: 'stream' | 'archive' | 'sink' | 'live' }[] = [
  { fault: 'worker-kill', label: 'worker SIGKILL', measure: 'stream' },
  { fault: 'zombie', label: 'worker SIGSTOP past session timeout (zombie)', measure: 'stream' },
  { fault: 'broker', label: 'Kafka broker stop/start', measure: 'stream' },
  { fault: 'archiver-kill', label: 'archiver SIGKILL', measure: 'archive' },
  { fault: 'disk-full', label: 'archive disk full', measure: 'archive' },
  { fault: 'sink-kill', label: 'sink SIGKILL', measure: 'sink' },
  { fault: 'redis', label: 'Redis stop/start during the nightly job', measure: 'live' },
  { fault: 'pg-drop', label: 'PostgreSQL connections dropped during the day switch', measure: 'live' },
];

function parseArgs(argv: string[]): { quick: boolean; seed: number; keep: boolean } | null {
  const o = { quick: process.env.CONCORD_CHAOS === 'quick', seed: 7, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') { process.stdout.write(`${HELP}\n`); return null; }
    else if (a === '--quick') o.quick = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--seed' && /^\d+$/.test(argv[i + 1] ?? '')) o.seed = Number(argv[++i]);
    else {
      process.stderr.write(`chaos: unknown or incomplete option ${a} (see --help)\n`);
      process.exit(2);
    }
  }
  return o;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (!opts) return 0;
  const started = Date.now();
  const say = (s: string) => process.stderr.write(`chaos [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);
  const id = randomUUID().slice(0, 6);
  const dir = join(projectRoot, '.concord', 'chaos', id);
  mkdirSync(dir, { recursive: true });
  const logs = new Logs(dir);
  const broker: BrokerConfig = {
    port: Number(process.env.CHAOS_KAFKA_PORT ?? 19192), controllerPort: Number(process.env.CHAOS_KAFKA_CONTROLLER_PORT ?? 19193),
    dataDir: join(projectRoot, '.infra', 'chaos-kafka'),
  };
  const redis = new OwnRedis(Number(process.env.CHAOS_REDIS_PORT ?? 16380), join(dir, 'redis'));
  const size = opts.quick
    ? { clicks: 30_000, transactions: 6_000, counts: { 'worker-kill': 4, zombie: 1, broker: 1, 'archiver-kill': 2, 'disk-full': 1, 'sink-kill': 2, redis: 1, 'pg-drop': 1 } }
    : { clicks: 200_000, transactions: 40_000, counts: { 'worker-kill': 20, zombie: 1, broker: 1, 'archiver-kill': 5, 'disk-full': 1, 'sink-kill': 5, redis: 1, 'pg-drop': 1 } };
  const date = '2026-11-23';
  const databases = [`chaos_${id}_base`, `chaos_${id}_faults`];
  const archives = [join(dir, 'archive-base'), join(dir, 'archive-faults')];
  const registry = seedRegistry();
  let exitCode = 1;
  say(`${opts.quick ? 'quick' : 'full'} run ${id}, seed ${opts.seed}; logs in ${dir}`);
  try {
    await brokerUp(broker, say);
    await redis.start();
    const stores = await Promise.all(databases.map((d) => createDatabase(d)));
    const diskProblem = mountSmallDisk(archives[1]!, '256m');
    mkdirSync(archives[0]!, { recursive: true });
    const plan: FaultPlan = { counts: size.counts, skipped: diskProblem ? { 'disk-full': `skipped: ${diskProblem}` } : {} };
    const common = { broker, redis, date, seed: opts.seed, clicks: size.clicks, transactions: size.transactions, logs, say, deadlineMs: opts.quick ? 420_000 : 2_400_000 };
    await runDay({ ...common, label: 'base', prefix: `chaos${id}b.`, store: stores[0]!, database: databases[0]!, archive: archives[0]!, plan: null, rng: seededRandom(opts.seed) });
    const outcomes = await runDay({ ...common, label: 'faults', prefix: `chaos${id}f.`, store: stores[1]!, database: databases[1]!, archive: archives[1]!, plan, rng: seededRandom(opts.seed ^ 0x5eed) });
    const brokers = `127.0.0.1:${broker.port}`;
    const base = await readRun({ registry, store: stores[0]!, archive: archives[0]!, date, brokers, prefix: `chaos${id}b.` });
    const run = await readRun({ registry, store: stores[1]!, archive: archives[1]!, date, brokers, prefix: `chaos${id}f.` });
    exitCode = report(base, run, outcomes, { quick: opts.quick, seed: opts.seed, clicks: size.clicks, transactions: size.transactions, seconds: (Date.now() - started) / 1000 });
    // The full run also fuzzes at scale (the CI variant runs the same tests at CI size on its own).
    if (!opts.quick && fuzzAtScale(say) !== 0) exitCode = 1;
  } catch (error) {
    process.stderr.write(`chaos: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    exitCode = 1;
  } finally {
    logs.close();
    await redis.stop();
    if (!opts.keep) {
      unmount(archives[1]!);
      await brokerDown(broker).catch(() => undefined);
      for (const d of databases) await dropDatabase(d).catch(() => undefined);
      rmSync(archives[0]!, { recursive: true, force: true });
      rmSync(archives[1]!, { recursive: true, force: true });
    }
  }
  return exitCode;
}

/** Hostile bytes at chaos scale: ~50k lines through `stream` and `archive`, 50k records through a Kafka worker. */
function fuzzAtScale(say: (s: string) => void): number {
  say('fuzz: hostile inputs at scale (test/property/hostile-input.test.ts, test/integration/kafka-hostile-records.test.ts)');
  const r = spawnSync('bash', ['infra/test-with-infra.sh', 'test/property/hostile-input.test.ts', 'test/integration/kafka-hostile-records.test.ts'], {
    cwd: projectRoot, stdio: 'inherit', env: { ...process.env, CONCORD_FUZZ_RUNS: '1000', CONCORD_FUZZ_KAFKA_LINES: '50000' },
  });
  process.stdout.write(`fuzz at scale: ${r.status === 0 ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`}\n`);
  return r.status ?? 1;
}

function report(base: RunState, run: RunState, outcomes: Map<Fault, FaultOutcome>, o: { quick: boolean; seed: number; clicks: number; transactions: number; seconds: number }): number {
  const measures: Record<'stream' | 'archive' | 'sink' | 'live', Comparison> = {
    stream: compareStream(base, run), archive: compareArchive(base, run), sink: compareSink(base, run), live: compareLive(base, run),
  };
  const unexplained = unexplainedOf(run);
  const header = ['fault', 'times injected', 'recovered', 'events lost', 'events doubled', 'results different', 'unexplained after reconcile'];
  const rows = FAULT_ROWS.map(({ fault, label, measure }) => {
    const out = outcomes.get(fault);
    const m = measures[measure];
    return [label, String(out?.injected ?? 0), out ? (out.injected === 0 ? 'n/a' : out.recovered ? 'yes' : 'NO') : 'n/a',
      String(m.lost), String(m.doubled), String(m.different), String(unexplained)];
  });
  // The fault-free run's own reconcile: what the product leaves unexplained without any fault.
  const own = compareStream(base, base);
  rows.unshift(['none (the fault-free run, stream rows)', '-', '-', String(own.lost), String(own.doubled), '-', String(unexplainedOf(base))]);
  const widths = header.map((h, i) => Math.max(mdCell(h).length, ...rows.map((r) => mdCell(r[i]).length)));
  const line = (cells: string[]) => mdRow(cells, widths);
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  process.stdout.write(`\nFault matrix (${o.quick ? 'quick' : 'full'}: ${o.clicks} clicks + ${o.transactions} transactions, seed ${o.seed}, ${o.seconds.toFixed(0)} s)\n\n${out.join('\n')}\n\n`);
  for (const { fault, label } of FAULT_ROWS) {
    const note = outcomes.get(fault)?.note;
    if (note) process.stdout.write(`- ${label}: ${note}\n`);
  }
  process.stdout.write(`- measured: stream rows = clicks counted by page_views_per_minute + clicks recorded late, against the clicks archived, and realtime cells that differ from the fault-free run; ` +
    `archive rows = archived event ids against the fault-free archive (${compareArchive(base, run).rows}); sink rows = views in the results topic against views in the store; ` +
    `nightly rows = views of the day visible after reconcile against the clicks archived. The stream faults share one run, so a loss there would show in every row measured the same way.\n`);
  process.stdout.write(`- late sets: ${lateSummary(base, run)}\n`);
  // Which realtime cells differ, so a rare loss can be traced from the log alone (its run's logs stay in .concord/chaos).
  const cells = differingCells(base.realtime, run.realtime);
  if (cells.length > 0) process.stdout.write(`- realtime cells different (first ${Math.min(cells.length, 20)} of ${cells.length}, fault-free -> with faults):\n${cells.slice(0, 20).map((x) => `  ${x}`).join('\n')}\n`);
  const failed = [...Object.values(measures), own].some((m) => m.lost > 0 || m.doubled > 0) || unexplained > 0 || unexplainedOf(base) > 0
    || FAULT_ROWS.some(({ fault }) => { const x = outcomes.get(fault); return x !== undefined && x.injected > 0 && !x.recovered; });
  process.stdout.write(failed ? 'chaos: FAILED (events lost or doubled, a fault not recovered, or differences left unexplained)\n' : 'chaos: ok\n');
  return failed ? 1 : 0;
}

process.exitCode = await main();
