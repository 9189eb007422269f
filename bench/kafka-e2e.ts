import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTopics, kafkaSettings } from '../stream/kafka/client.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PEER = join(root, 'bench', 'peers', 'kafka-streams');

/** Resolves the Kafka Streams jars (Maven, cached) and compiles the peer with javac. */
function buildPeer(workDir: string): string {
  const libs = join(root, '.bench', 'kafka-streams-libs');
  if (!existsSync(join(libs, '.complete'))) {
    const r = spawnSync('mvn', ['-q', '-f', join(PEER, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`resolving kafka-streams from Maven Central failed: ${r.stdout}${r.stderr}`);
    spawnSync('touch', [join(libs, '.complete')]);
  }
  const classes = join(workDir, 'kafka-streams-classes');
  mkdirSync(classes, { recursive: true });
  const c = spawnSync('javac', ['-cp', `${libs}/*`, '-d', classes, join(PEER, 'src', 'ViewsPerMinute.java')], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`compiling the Kafka Streams peer failed: ${c.stderr}`);
  return `${libs}/*:${classes}`;
}

function timedRun(cmd: string, args: string[], env: Record<string, string>): Promise<{ seconds: number; stdout: string; stderr: string }> {
  const t = performance.now();
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((ok, fail) => child.on('exit', (code) => {
    const seconds = (performance.now() - t) / 1000;
    if (code === 0) ok({ seconds, stdout, stderr });
    else fail(new Error(`${cmd} ${args.slice(0, 4).join(' ')} exited with ${code}: ${stderr.slice(-2000)}`));
  }));
}

/**
 * End to end through the local broker, same topic data for both: `concord produce` writes N clicks
 * (keyed by url, 6 partitions); then, one after the other, a Concord worker (`concord run --pipeline
 * page_views_per_minute --stop-when-idle 1s`, exactly once through transactions) and the Kafka Streams
 * peer (exactly_once_v2, the same 5 min grace, 2 stream threads) each read the whole topic and write
 * their windowed counts. Wall time from process start to exit after the last record is committed.
 */
export async function kafkaEndToEnd(n: number, workDir: string): Promise<string> {
  const classpath = buildPeer(workDir);
  const prefix = `bench${randomUUID().slice(0, 6)}.`;
  const env = { CONCORD_TOPIC_PREFIX: prefix };
  const tsx = ['--import', 'tsx', 'cli/main.ts'];
  await timedRun(process.execPath, [...tsx, 'produce', '--schema', 'clicks', '--count', String(n), '--late-fraction', '0', '--seed', '3'], env);
  // The broker does not create topics on first use (auto.create.topics.enable=false): the peer's output too.
  await ensureTopics(kafkaSettings('concord-bench'), [{ name: `${prefix}ks.views`, partitions: 6 }]);
  const concord = await timedRun(process.execPath, [...tsx, 'run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '1s', '--worker-id', 'bench'], env);
  const rows = [`| Concord worker (kafkajs, transactions per fetched batch) | ${concord.seconds.toFixed(1)} s | ${(n / concord.seconds / 1000).toFixed(0)}k/s | includes Node start, group join and the 1 s idle wait before the drain |`];
  let ratio = '-';
  try {
    const ks = await timedRun('java', ['-Xmx1g', '-cp', classpath, 'ViewsPerMinute', process.env.KAFKA_BROKERS ?? '127.0.0.1:9092', `${prefix}clicks`, `${prefix}ks.views`, `${prefix}ks-app`, String(n), '100'], {});
    rows.push(`| Kafka Streams 4.3.1 (exactly_once_v2, commit.interval.ms 100) | ${ks.seconds.toFixed(1)} s | ${(n / ks.seconds / 1000).toFixed(0)}k/s | includes JVM start and group join; its own timer: ${ks.stdout.trim()} |`);
    ratio = (ks.seconds / concord.seconds).toFixed(2);
  } catch (error) {
    rows.push(`| Kafka Streams peer | failed | - | ${error instanceof Error ? error.message.split('\n')[0] : String(error)} |`);
  }
  return [`### End to end through the local broker: ${n.toLocaleString('en-US')} clicks, views per minute per URL`, '',
    '| runtime | time | throughput | note |', '|---|---:|---:|---|', ...rows, '', `Ratio (Kafka Streams time / Concord time): **${ratio}x** (target >= 0.5x).`].join('\n');
}
