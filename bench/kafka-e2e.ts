import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTopics, kafkaSettings } from '../stream/kafka/client.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

/**
 * Resolves a Java peer's jars (`bench/peers/<peer>/pom.xml`, Maven, cached with a marker) and compiles
 * its source file with the shared ones (javac); returns the classpath.
 */
function buildJavaPeer(peer: string, source: string, workDir: string): string {
  const dir = join(root, 'bench', 'peers', peer);
  const libs = join(root, '.bench', `${peer}-libs`);
  if (!existsSync(join(libs, '.complete'))) {
    const r = spawnSync('mvn', ['-q', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`resolving the ${peer} peer's jars from Maven Central failed: ${r.stdout}${r.stderr}`);
    spawnSync('touch', [join(libs, '.complete')]);
  }
  const classes = join(workDir, `${peer}-classes`);
  mkdirSync(classes, { recursive: true });
  const shared = join(root, 'bench', 'peers', 'shared', 'ClickTime.java'); // event time as Concord reads it
  const c = spawnSync('javac', ['-cp', `${libs}/*`, '-d', classes, join(dir, 'src', source), shared], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`compiling the ${peer} peer failed: ${c.stderr}`);
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
    else fail(new Error(`${cmd} ${args.slice(0, 4).join(' ')} exited with ${code}: ${stderr.slice(-20_000)}`));
  }));
}

/**
 * End to end through the local broker, same topic data for both: `concord produce` writes N clicks
 * (keyed by url, 6 partitions); then, one after the other, a Concord worker (`concord run --pipeline
 * page_views_per_minute --stop-when-idle 1s`, exactly once through transactions) and the Kafka Streams
 * peer (exactly_once_v2, the same 5 min grace, 2 stream threads) and the Flink peer (a MiniCluster job at
 * parallelism 2, bounded Kafka source, exactly-once Kafka sink, same lateness) each read the whole topic
 * and write their windowed counts. Wall time from process start to exit after the last record is committed.
 */
export async function kafkaEndToEnd(n: number, workDir: string): Promise<string> {
  const classpath = buildJavaPeer('kafka-streams', 'ViewsPerMinute.java', workDir);
  const prefix = `bench${randomUUID().slice(0, 6)}.`;
  const env = { CONCORD_TOPIC_PREFIX: prefix };
  const tsx = ['--import', 'tsx', 'cli/main.ts'];
  await timedRun(process.execPath, [...tsx, 'produce', '--schema', 'clicks', '--count', String(n), '--late-fraction', '0', '--seed', '3'], env);
  // The broker does not create topics on first use (auto.create.topics.enable=false): the peer's output too.
  await ensureTopics(kafkaSettings('concord-bench'), [{ name: `${prefix}ks.views`, partitions: 6 }, { name: `${prefix}flink.views`, partitions: 6 }]);
  const concord = await timedRun(process.execPath, [...tsx, 'run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '1s', '--worker-id', 'bench'], env);
  // The peers run at parallelism 2: Concord too, as two worker processes of one group (a fresh one).
  const two = await timedRun(process.execPath, [...tsx, 'run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '1s', '--worker-id', 'bench2', '--workers', '2', '--group', `${prefix}concord-workers2`], env);
  const rows = [
    `| Concord worker (@platformatic/kafka, one transaction per fetch) | ${concord.seconds.toFixed(1)} s | ${(n / concord.seconds / 1000).toFixed(0)}k/s | includes Node start, group join and the 1 s idle wait before the drain |`,
    `| Concord, \`--workers 2\` (two processes, one group) | ${two.seconds.toFixed(1)} s | ${(n / two.seconds / 1000).toFixed(0)}k/s | the same, twice, plus the rebalances of two members |`,
  ];
  let ratio = '-';
  try {
    const ks = await timedRun('java', ['-Xmx1g', '-cp', classpath, 'ViewsPerMinute', process.env.KAFKA_BROKERS ?? '127.0.0.1:9092', `${prefix}clicks`, `${prefix}ks.views`, `${prefix}ks-app`, String(n), '100'], {});
    rows.push(`| Kafka Streams 4.3.1 (exactly_once_v2, commit.interval.ms 100) | ${ks.seconds.toFixed(1)} s | ${(n / ks.seconds / 1000).toFixed(0)}k/s | includes JVM start and group join; its own timer: ${ks.stdout.trim()} |`);
    ratio = `**${(ks.seconds / concord.seconds).toFixed(2)}x** (two workers: **${(ks.seconds / two.seconds).toFixed(2)}x**)`;
  } catch (error) {
    rows.push(`| Kafka Streams peer | failed | - | ${firstLine(error)} |`);
  }
  // Built here, not up front: a Flink that cannot be resolved or compiled fails its row only.
  let flinkRatio = '-';
  try {
    const flink = await runFlinkPeer(buildJavaPeer('flink', 'FlinkViewsPerMinute.java', workDir), process.env.KAFKA_BROKERS ?? '127.0.0.1:9092', `${prefix}clicks`, `${prefix}flink.views`, `${prefix}flink-job`, n, workDir);
    rows.push(`| Flink 2.2.1 MiniCluster (parallelism 2, exactly-once Kafka sink, checkpoint 100 ms) | ${flink.seconds.toFixed(1)} s | ${(n / flink.seconds / 1000).toFixed(0)}k/s | includes JVM and MiniCluster start; its own timer: ${flink.stdout.trim()} |`);
    flinkRatio = `**${(flink.seconds / concord.seconds).toFixed(2)}x** (two workers: **${(flink.seconds / two.seconds).toFixed(2)}x**)`;
  } catch (error) {
    rows.push(`| Flink peer | failed | - | ${firstLine(error)} |`);
  }
  return [`### End to end through the local broker: ${n.toLocaleString('en-US')} clicks, views per minute per URL`, '',
    '| runtime | time | throughput | note |', '|---|---:|---:|---|', ...rows, '', `Ratio (Kafka Streams time / Concord time): ${ratio} (issue 12's target: >= 1.5x).`, '',
    `Ratio (Flink time / Concord time): ${flinkRatio} (issue 12's target: >= 1.0x).`].join('\n');
}

/**
 * The Flink peer: a MiniCluster job at parallelism 2 (the machine's cores, as the Kafka Streams peer's 2
 * threads) until its bounded source has read the whole topic; it exits non-zero when it read other than
 * `n` records, so a short read fails the row instead of looking fast. On failure, the innermost cause
 * of Flink's long exception chain.
 */
async function runFlinkPeer(classpath: string, brokers: string, input: string, output: string, groupId: string, n: number, workDir: string): Promise<{ seconds: number; stdout: string }> {
  try {
    return await timedRun('java', ['-Xmx1g', '-cp', classpath, 'FlinkViewsPerMinute', brokers, input, output, groupId, String(n), '2'], {});
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // The whole exception chain, kept for whoever investigates (the row shows its innermost cause).
    const log = join(workDir, `flink-failure-${Date.now()}.log`);
    writeFileSync(log, text);
    const causes = text.split('\n').filter((l) => /^(Caused by: |Exception in thread )/.test(l));
    throw new Error(`the Flink peer failed: ${(causes.at(-1) ?? firstLine(error)).slice(0, 500)} (whole chain: ${log})`);
  }
}

/** A failed row's reason: one line, so the table stays a table. */
function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}
