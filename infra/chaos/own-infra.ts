/**
 * The fault matrix's own broker, Redis, PostgreSQL databases and archive mount: stopping them harms no one else
 * using the shared infrastructure (Kafka 9092, Redis 6379).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../postgres.ts';
import { kafkaMetadata, redisPing } from '../probes.ts';
import { projectRoot } from '../settings.ts';
import { sleep } from './procs.ts';

export interface BrokerConfig { port: number; controllerPort: number; dataDir: string }

/** Env of `infra/up.ts` for the chaos broker; Redis and PostgreSQL: the shared ones (reused, never stopped). */
function upEnv(b: BrokerConfig): NodeJS.ProcessEnv {
  return {
    ...process.env, KAFKA_PORT: String(b.port), KAFKA_CONTROLLER_PORT: String(b.controllerPort), KAFKA_DATA_DIR: b.dataDir,
    KAFKA_LIBS_DIR: process.env.KAFKA_LIBS_DIR ?? join(projectRoot, '.infra', 'kafka', 'libs'), CONCORD_INFRA_LEASE: '',
  };
}

/** Starts (or reuses) the chaos broker through `infra/up.ts`, the way `npm run infra:up` does (async: the children's pipes keep flowing). */
export async function brokerUp(b: BrokerConfig, log: (s: string) => void): Promise<void> {
  const t = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/up.ts'], { cwd: projectRoot, env: upEnv(b), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`infra/up.ts for the chaos broker on port ${b.port} failed:\n${stderr}`);
  log(`broker on 127.0.0.1:${b.port} answers (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

/** Stops the chaos broker for good and forgets it in .infra/ (its data directory stays, for the next run). */
export async function brokerDown(b: BrokerConfig): Promise<void> {
  await brokerStop(b);
  for (const f of [`kafka-${b.port}.pid`, `kafka-${b.port}.owner`]) rmSync(join(projectRoot, '.infra', f), { force: true });
}

function brokerPid(b: BrokerConfig): number | null {
  try {
    const pid = Number(readFileSync(join(projectRoot, '.infra', `kafka-${b.port}.pid`), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** Stops the chaos broker (SIGTERM, then SIGKILL after 30 s); the data directory stays for the restart. */
export async function brokerStop(b: BrokerConfig): Promise<boolean> {
  const pid = brokerPid(b);
  if (pid === null) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try { process.kill(pid, 0); } catch { return true; }
    await sleep(200);
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

export async function brokerAnswers(b: BrokerConfig): Promise<boolean> {
  return kafkaMetadata('127.0.0.1', b.port, 1_000).then((m) => m.brokers.length > 0, () => false);
}

/** Our own redis-server with an append-only file: a restart keeps the queue, as a production Redis would. */
export class OwnRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number, readonly dir: string) { mkdirSync(dir, { recursive: true }); }
  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const log = openSync(join(this.dir, 'redis.log'), 'a');
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'always', '--dir', this.dir], { stdio: ['ignore', log, log] });
    closeSync(log);
    const deadline = Date.now() + 15_000;
    while (!(await redisPing(new URL(this.url), 500).then((r) => r === '+PONG', () => false))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within 15 s (log: ${join(this.dir, 'redis.log')})`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }
}

/** A fresh PostgreSQL database per run (dropped at the end): `postgres://.../chaos_<id>`. */
export async function createDatabase(name: string): Promise<string> {
  const admin = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  const c = new pg.Client({ connectionString: admin.href });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  admin.pathname = `/${name}`;
  return admin.href;
}

export async function dropDatabase(name: string): Promise<void> {
  const c = new pg.Client({ connectionString: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL });
  await c.connect();
  try { await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); } finally { await c.end(); }
}

/**
 * Terminates every other connection to `database` whose current statement matches `pattern` (or all of them):
 * the writer's connections, while reconcile publishes. Returns how many it terminated.
 */
export async function terminateBackends(admin: pg.Client, database: string, pattern: RegExp | null): Promise<number> {
  const r = await admin.query<{ pid: number; query: string; state: string }>(
    'SELECT pid, query, state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  const victims = r.rows.filter((x) => pattern === null || (x.state !== 'idle' && pattern.test(x.query)));
  for (const v of victims) await admin.query('SELECT pg_terminate_backend($1)', [v.pid]);
  return victims.length;
}

/** A size-limited tmpfs for the archive (root only); null with the reason when it cannot be mounted. */
export function mountSmallDisk(dir: string, size: string): string | null {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0) return 'not running as root: cannot mount a size-limited tmpfs';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `mount -t tmpfs failed: ${(r.stderr || r.stdout).trim()}`;
}

export function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Fills the file system holding `dir` until ENOSPC; returns the filler's path (remove it to free the space). */
export function fillDisk(dir: string): string {
  const path = join(dir, '.chaos-filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    // Also the last partial block, so the next write of any size fails.
    try { for (;;) writeSync(fd, chunk, 0, 4096); } catch { /* full */ }
  } finally {
    closeSync(fd);
  }
  return path;
}

export function freeDisk(filler: string): void {
  rmSync(filler, { force: true });
}
