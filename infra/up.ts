/**
 * `npm run infra:up`: makes sure Redis, PostgreSQL (infra/postgres.ts) and a real single-node Apache Kafka 4.x broker (KRaft,
 * broker + controller, loopback) answer. Reuses what already answers; starts the rest and records
 * what it started (infra/state.ts) so `infra:down` stops only that. Broker jars come from Maven
 * Central (cached in .infra/kafka/libs). Settings: infra/settings.ts, docs/operations.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaMetadata, redisPing } from './probes.ts';
import { ensurePostgres } from './postgres.ts';
import { ensureScramUser, ensureTlsFiles, markScramUser, scramFormatArgs, securedListenerProperties } from './kafka-security.ts';
import { infraSettings, projectRoot, redisPort, type InfraSettings } from './settings.ts';
import { forget, kafkaService, leaseId, ownerOf, redisService, runningPid, setOwner, takeLease, withUpLock, type Owner, type Service } from './state.ts';

const say = (text: string) => process.stderr.write(`infra: ${text}\n`);
const startedAt = Date.now();
const seconds = () => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;

class InfraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfraError';
  }
}

const javaBin = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';

function checkJava(): void {
  const r = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new InfraError(`${javaBin} not found: install a Java 17+ runtime (apt-get install openjdk-17-jre-headless) or set JAVA_HOME`);
  }
  const major = Number(/version "(?:1\.)?(\d+)/.exec(r.stderr)?.[1] ?? NaN);
  if (major < 17) throw new InfraError(`Kafka 4.x needs Java 17 or newer, ${javaBin} is Java ${major}: install openjdk-17-jre-headless or set JAVA_HOME`);
}

function checkMaven(): void {
  const r = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new InfraError('mvn not found: install Maven (apt-get install maven); it fetches the Kafka broker jars from Maven Central once');
}

/** Polls `probe` until it answers; gives up at the deadline or as soon as `dead()` says why. */
async function poll<T>(what: string, probe: () => Promise<T>, deadlineMs: number, dead: () => string | null): Promise<T> {
  const start = Date.now();
  let lastError = 'no attempt yet';
  let nextReport = 5_000;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    const why = dead();
    if (why) throw new InfraError(`${what} ${why}`);
    const elapsed = Date.now() - start;
    if (elapsed > deadlineMs) throw new InfraError(`${what} did not answer within ${deadlineMs / 1000} s (last: ${lastError})`);
    if (elapsed >= nextReport) {
      say(`waiting for ${what} (${Math.round(elapsed / 1000)} s; last: ${lastError})`);
      nextReport += 5_000;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function redisAnswers(s: InfraSettings): Promise<boolean> {
  return redisPing(s.redisUrl, 1_000).then((r) => r === '+PONG', () => false);
}

function claim(service: Service, owner: Owner): void {
  // A manual `infra:up` keeps what a test run started, so the test run's `infra:down` leaves it running.
  if (owner === 'manual' && ownerOf(service) === 'session' && runningPid(service) !== null) {
    setOwner(service, 'manual');
    say(`${service.name} is now kept running after test runs (stop it with \`npm run infra:down\`)`);
  }
}

async function ensureRedis(s: InfraSettings, owner: Owner): Promise<void> {
  const service = redisService(s);
  if (await redisAnswers(s)) {
    claim(service, owner);
    say(`Redis answers at ${s.redisUrl.href}: reusing it`);
    return;
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(s.redisUrl.hostname)) {
    throw new InfraError(`Redis at ${s.redisUrl.href} does not answer and is not on this machine: start it there, or set REDIS_URL to a running Redis`);
  }
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    throw new InfraError('redis-server not found: install it (apt-get install redis-server), or set REDIS_URL to a running Redis');
  }
  const port = String(redisPort(s));
  const r = spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', port, '--save', '', '--appendonly', 'no',
    '--pidfile', service.pidFile, '--dir', s.stateDir, '--logfile', join(s.stateDir, `${service.name}.log`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new InfraError(`redis-server failed to start on 127.0.0.1:${port}: ${(r.stderr || r.stdout).trim()}`);
  setOwner(service, owner);
  await poll(`Redis on 127.0.0.1:${port}`, () => redisPing(s.redisUrl, 1_000), 20_000, () => null);
  say(`started Redis on 127.0.0.1:${port} (pid file ${service.pidFile}; log ${join(s.stateDir, `${service.name}.log`)})`);
}

/** Resolves the broker jars once per pom.xml version into `libsDir` (into a temp dir, then renamed: never half a classpath). */
function resolveJars(s: InfraSettings): string {
  const pom = join(projectRoot, 'infra', 'kafka', 'pom.xml');
  const stamp = createHash('sha256').update(readFileSync(pom)).digest('hex').slice(0, 16);
  const marker = join(s.libsDir, `.complete-${stamp}`);
  const complete = existsSync(marker) && readdirSync(s.libsDir).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  if (!complete) {
    checkMaven();
    const staging = `${s.libsDir}.partial`;
    rmSync(staging, { recursive: true, force: true });
    say(`resolving the Kafka broker jars with Maven into ${s.libsDir} (once per pom.xml version)`);
    const t = Date.now();
    const r = spawnSync('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) {
      throw new InfraError('Maven could not resolve org.apache.kafka:kafka_2.13 (see its output above): check that Maven Central is reachable, then run `npm run infra:up` again');
    }
    writeFileSync(join(staging, `.complete-${stamp}`), new Date().toISOString());
    rmSync(s.libsDir, { recursive: true, force: true });
    renameSync(staging, s.libsDir);
    say(`resolved ${readdirSync(s.libsDir).filter((f) => f.endsWith('.jar')).length} jars in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  return join(s.libsDir, '*');
}

function serverProperties(s: InfraSettings): string {
  const secured = securedListenerProperties(s);
  return [
    '# Written by infra/up.ts on every start: edit infra/up.ts, not this file.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${s.controllerPort}`,
    `listeners=${[`PLAINTEXT://127.0.0.1:${s.kafkaPort}`, `CONTROLLER://127.0.0.1:${s.controllerPort}`, ...secured.listeners].join(',')}`,
    `advertised.listeners=${[`PLAINTEXT://127.0.0.1:${s.kafkaPort}`, ...secured.listeners].join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${['CONTROLLER:PLAINTEXT', 'PLAINTEXT:PLAINTEXT', ...secured.protocolMap].join(',')}`,
    ...secured.lines,
    `log.dirs=${join(s.dataDir, 'data')}`,
    'num.partitions=6',
    // Single node: every internal topic has one replica.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Fewer internal partitions than the default 50: the first group / transaction on a fresh broker is ready sooner.
    'offsets.topic.num.partitions=6',
    'transaction.state.log.num.partitions=6',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

function javaArgs(classpath: string, s: InfraSettings, args: string[]): string[] {
  return [
    '-Xmx1g', '-Xms256m', '-XX:+UseG1GC', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(projectRoot, 'infra', 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${s.dataDir}`,
    '-cp', classpath, ...args,
  ];
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(missing)';
  }
}

function formatStorage(classpath: string, s: InfraSettings, props: string): void {
  if (existsSync(join(s.dataDir, 'data', 'meta.properties'))) return;
  const t = Date.now();
  const id = spawnSync(javaBin, javaArgs(classpath, s, ['kafka.tools.StorageTool', 'random-uuid']), { encoding: 'utf8' });
  const clusterId = id.stdout.trim().split('\n').pop() ?? '';
  if (id.status !== 0 || !/^[A-Za-z0-9_-]{22}$/.test(clusterId)) {
    throw new InfraError(`kafka.tools.StorageTool random-uuid failed (exit ${id.status}): ${(id.stderr || id.stdout).trim()}`);
  }
  const fmt = spawnSync(javaBin, javaArgs(classpath, s, ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, ...scramFormatArgs()]), { encoding: 'utf8' });
  if (fmt.status !== 0) {
    throw new InfraError(`formatting Kafka storage in ${join(s.dataDir, 'data')} failed (exit ${fmt.status}): ${(fmt.stderr || fmt.stdout).trim()}`);
  }
  markScramUser(s);
  say(`formatted Kafka storage in ${join(s.dataDir, 'data')} (cluster ${clusterId}, ${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

async function kafkaReady(s: InfraSettings): Promise<string> {
  const m = await kafkaMetadata(s.kafkaHost, s.kafkaPort, 2_000);
  if (m.brokers.length === 0) throw new Error('metadata lists no broker yet');
  return `cluster ${m.clusterId}, ${m.brokers.map((b) => `broker ${b.nodeId} at ${b.host}:${b.port}`).join(', ')}`;
}

async function ensureKafka(s: InfraSettings, owner: Owner): Promise<void> {
  const service = kafkaService(s);
  const where = `Kafka on ${s.kafkaHost}:${s.kafkaPort}`;
  const answer = await kafkaReady(s).catch(() => null);
  if (answer) {
    claim(service, owner);
    say(`${where} answers (${answer}): reusing it`);
    return;
  }
  const logs = `${join(s.dataDir, 'server.log')} and ${join(s.dataDir, 'stdout.log')}`;
  const failure = (message: string) =>
    new InfraError(`${message}\n--- ${join(s.dataDir, 'server.log')} (last lines) ---\n${tail(join(s.dataDir, 'server.log'))}\n` +
      `--- ${join(s.dataDir, 'stdout.log')} (last lines) ---\n${tail(join(s.dataDir, 'stdout.log'))}\n` +
      `What to do: read ${logs}. A port in use: set KAFKA_PORT / KAFKA_CONTROLLER_PORT. A data dir formatted by another ` +
      `cluster: \`npm run infra:down -- --clean\` (or remove ${join(s.dataDir, 'data')}) and run \`npm run infra:up\` again.`);

  // A broker we started earlier that is still starting up (or hung): wait for it, never start a second one.
  const existing = runningPid(service);
  if (existing !== null) {
    say(`${where}: our broker (pid ${existing}) is running but not answering yet: waiting for it`);
    try {
      say(`${where} answers (${await poll(where, () => kafkaReady(s), 120_000, () => (runningPid(service) === null ? 'exited' : null))}) after ${seconds()}`);
    } catch (error) {
      throw failure(`${(error as Error).message}. Stop it with \`npm run infra:down\` and retry.`);
    }
    return;
  }

  checkJava();
  const classpath = resolveJars(s);
  mkdirSync(s.dataDir, { recursive: true });
  const props = join(s.dataDir, 'server.properties');
  ensureTlsFiles(s, say);
  writeFileSync(props, serverProperties(s));
  formatStorage(classpath, s, props);

  const out = openSync(join(s.dataDir, 'stdout.log'), 'a');
  const child: ChildProcess = spawn(javaBin, javaArgs(classpath, s, ['kafka.Kafka', props]), { detached: true, stdio: ['ignore', out, out] });
  let exited: string | null = null;
  child.on('exit', (code, signal) => (exited = `exited during startup (${signal ?? `exit code ${code}`})`));
  child.on('error', (error) => (exited = `could not be started: ${error.message}`));
  child.unref();
  if (child.pid === undefined) throw failure(`${where} could not be started`);
  writeFileSync(service.pidFile, `${child.pid}\n`);
  setOwner(service, owner);
  say(`starting Kafka 4.x (KRaft broker + controller, -Xmx1g) on ${s.kafkaHost}:${s.kafkaPort}, controller ${s.kafkaHost}:${s.controllerPort}, pid ${child.pid}`);
  try {
    const ready = await poll(where, () => kafkaReady(s), 120_000, () => exited);
    say(`${where} answers (${ready}) after ${seconds()}; logs: ${logs}`);
  } catch (error) {
    if (exited) forget(service);
    throw failure((error as Error).message);
  }
  ensureScramUser(s, javaBin, (args) => javaArgs(classpath, s, args), say);
}

try {
  const s = infraSettings();
  const lease = leaseId();
  const owner: Owner = lease ? 'session' : 'manual';
  await withUpLock(s, async () => {
    if (lease) takeLease(s, lease);
    await ensureRedis(s, owner);
    await ensurePostgres(say);
    await ensureKafka(s, owner);
  }, 300_000, (holder) => say(`another infra:up (pid ${holder}) is running: waiting for it`));
} catch (error) {
  process.stderr.write(`infra:up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
