/**
 * `npm run infra:up`: makes sure Redis and a real single-node Apache Kafka 4.x broker (KRaft,
 * broker + controller, loopback) answer. Reuses what already answers; starts the rest and records
 * what it started so `infra:down` stops only that. Broker jars come from Maven Central (cached).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaApiVersions, redisPing, waitFor } from './probes.ts';
import { infraSettings, projectRoot, type InfraSettings } from './settings.ts';

const say = (text: string) => process.stderr.write(`infra: ${text}\n`);

class InfraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfraError';
  }
}

function need(command: string, args: string[], hint: string): void {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new InfraError(`${command} not found or not working: ${hint}`);
}

async function ensureRedis(s: InfraSettings): Promise<void> {
  try {
    await redisPing(s.redisUrl);
    say(`Redis answers at ${s.redisUrl.href}`);
    return;
  } catch {
    // not running: start one below
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(s.redisUrl.hostname)) {
    throw new InfraError(`Redis at ${s.redisUrl.href} does not answer, and it is not on this machine: start it or set REDIS_URL`);
  }
  need('redis-server', ['--version'], 'install it (apt-get install redis-server) or set REDIS_URL to a running Redis');
  const dir = join(projectRoot, '.infra');
  mkdirSync(dir, { recursive: true });
  const port = s.redisUrl.port || '6379';
  const pidFile = join(dir, `redis-${port}.pid`);
  const r = spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', port, '--save', '', '--appendonly', 'no',
    '--pidfile', pidFile, '--dir', dir, '--logfile', join(dir, `redis-${port}.log`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new InfraError(`redis-server failed to start: ${r.stderr || r.stdout}`);
  await waitFor(`Redis on port ${port}`, () => redisPing(s.redisUrl), 20_000);
  writeFileSync(join(dir, 'redis.started'), pidFile);
  say(`started Redis on 127.0.0.1:${port}`);
}

function resolveJars(s: InfraSettings): string {
  const pom = join(projectRoot, 'infra', 'kafka', 'pom.xml');
  const stamp = createHash('sha256').update(readFileSync(pom)).digest('hex').slice(0, 16);
  const marker = join(s.libsDir, `.complete-${stamp}`);
  if (!existsSync(marker)) {
    need('mvn', ['-v'], 'install Maven (apt-get install maven): it fetches the Kafka broker jars from Maven Central');
    say(`resolving Kafka broker jars with Maven into ${s.libsDir} (first run only)`);
    const r = spawnSync('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${s.libsDir}`], { stdio: 'inherit' });
    if (r.status !== 0) throw new InfraError('Maven could not resolve org.apache.kafka:kafka_2.13 (see its output above); check that Maven Central is reachable');
    writeFileSync(marker, new Date().toISOString());
  }
  return join(s.libsDir, '*');
}

function serverProperties(s: InfraSettings): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${s.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${s.kafkaPort},CONTROLLER://127.0.0.1:${s.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${s.kafkaPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(s.dataDir, 'data')}`,
    'num.partitions=6',
    // Single node: every internal topic has one replica.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

function java(classpath: string, s: InfraSettings, args: string[]): string[] {
  return [
    '-Xmx1g', '-XX:+UseG1GC', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(projectRoot, 'infra', 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${s.dataDir}`,
    '-cp', classpath, ...args,
  ];
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function ensureKafka(s: InfraSettings): Promise<void> {
  try {
    await kafkaApiVersions(s.kafkaHost, s.kafkaPort);
    say(`Kafka answers at ${s.kafkaHost}:${s.kafkaPort}`);
    return;
  } catch {
    // not running: start one below
  }
  need('java', ['-version'], 'install a JDK/JRE 17+ (apt-get install openjdk-17-jre-headless)');
  const classpath = resolveJars(s);
  mkdirSync(s.dataDir, { recursive: true });
  const props = join(s.dataDir, 'server.properties');
  writeFileSync(props, serverProperties(s));
  if (!existsSync(join(s.dataDir, 'data', 'meta.properties'))) {
    const id = spawnSync('java', java(classpath, s, ['kafka.tools.StorageTool', 'random-uuid']), { encoding: 'utf8' });
    const clusterId = id.stdout.trim().split('\n').pop() ?? '';
    if (id.status !== 0 || !clusterId) throw new InfraError(`kafka-storage random-uuid failed: ${id.stderr}`);
    const fmt = spawnSync('java', java(classpath, s, ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props]), { encoding: 'utf8' });
    if (fmt.status !== 0) throw new InfraError(`formatting Kafka storage in ${s.dataDir} failed: ${fmt.stderr || fmt.stdout}`);
    say(`formatted Kafka storage (cluster ${clusterId})`);
  }
  const out = openSync(join(s.dataDir, 'stdout.log'), 'a');
  const child = spawn('java', java(classpath, s, ['kafka.Kafka', props]), { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  writeFileSync(join(s.dataDir, 'kafka.pid'), String(child.pid));
  say(`starting Kafka 4.x (KRaft) on ${s.kafkaHost}:${s.kafkaPort}, pid ${child.pid}`);
  try {
    const apis = await waitFor(`Kafka on ${s.kafkaHost}:${s.kafkaPort}`, () => kafkaApiVersions(s.kafkaHost, s.kafkaPort), 120_000, (ms) => {
      if (ms % 5_000 < 250) say(`waiting for Kafka to answer (${Math.round(ms / 1000)} s)`);
    });
    say(`Kafka answers ApiVersions (${apis.size} APIs)`);
  } catch (error) {
    process.stderr.write(`--- ${join(s.dataDir, 'server.log')} ---\n${tail(join(s.dataDir, 'server.log'))}\n--- stdout.log ---\n${tail(join(s.dataDir, 'stdout.log'))}\n`);
    throw new InfraError(`${(error as Error).message}. Check the logs above; if the data dir is from another cluster, remove ${s.dataDir} and retry`);
  }
}

try {
  const s = infraSettings();
  await ensureRedis(s);
  await ensureKafka(s);
} catch (error) {
  process.stderr.write(`infra:up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
