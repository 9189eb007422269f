/**
 * What `infra:up` started, so `infra:down` stops only that. Under `.infra/`:
 * - `<service>.pid`: the process id of a service infra:up started (written by us, or by redis-server);
 * - `<service>.owner`: `manual` (started by `npm run infra:up`) or `session` (started by a test run,
 *   `infra/test-with-infra.sh`); a service without an owner file was not started by us;
 * - `leases/<pid>`: one per running test run (env CONCORD_INFRA_LEASE), so a test run ending while
 *   another still uses the services leaves them running for the other one;
 * - `up.lock`: two concurrent `infra:up`s never start (or format) the same broker twice.
 */
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { InfraSettings } from './settings.ts';
import { redisPort } from './settings.ts';

export type Owner = 'manual' | 'session';

export interface Service {
  /** e.g. `kafka-9092`, `redis-6379` */
  name: string;
  pidFile: string;
  ownerFile: string;
  /** A substring of the process's command line, so a reused pid is never taken for ours. */
  commandMarker: string;
}

export function kafkaService(s: InfraSettings): Service {
  const name = `kafka-${s.kafkaPort}`;
  return { name, pidFile: join(s.stateDir, `${name}.pid`), ownerFile: join(s.stateDir, `${name}.owner`), commandMarker: 'kafka.Kafka' };
}

export function redisService(s: InfraSettings): Service {
  const name = `redis-${redisPort(s)}`;
  return { name, pidFile: join(s.stateDir, `${name}.pid`), ownerFile: join(s.stateDir, `${name}.owner`), commandMarker: 'redis-server' };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** The pid of the service's process if it is running and is ours (pid file + matching command line). */
export function runningPid(service: Service): number | null {
  if (!existsSync(service.pidFile)) return null;
  const pid = Number(readFileSync(service.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  const cmd = commandLine(pid);
  // Without /proc (not Linux) we cannot check the command line: trust the pid file.
  return cmd === null || cmd.includes(service.commandMarker) ? pid : null;
}

export function ownerOf(service: Service): Owner | null {
  if (!existsSync(service.ownerFile)) return null;
  const owner = readFileSync(service.ownerFile, 'utf8').trim();
  return owner === 'manual' || owner === 'session' ? owner : null;
}

export function setOwner(service: Service, owner: Owner): void {
  writeFileSync(service.ownerFile, `${owner}\n`);
}

export function forget(service: Service): void {
  rmSync(service.pidFile, { force: true });
  rmSync(service.ownerFile, { force: true });
}

/** The lease of this process's test run (env CONCORD_INFRA_LEASE, set by infra/test-with-infra.sh), if any. */
export function leaseId(): string | null {
  const id = process.env.CONCORD_INFRA_LEASE;
  return id && /^\d+$/.test(id) ? id : null;
}

function leasesDir(s: InfraSettings): string {
  return join(s.stateDir, 'leases');
}

export function takeLease(s: InfraSettings, id: string): void {
  mkdirSync(leasesDir(s), { recursive: true });
  writeFileSync(join(leasesDir(s), id), `${new Date().toISOString()}\n`);
}

export function dropLease(s: InfraSettings, id: string): void {
  rmSync(join(leasesDir(s), id), { force: true });
}

/** Leases of test runs still running (leases of runs that died are removed). */
export function liveLeases(s: InfraSettings): string[] {
  if (!existsSync(leasesDir(s))) return [];
  const live: string[] = [];
  for (const id of readdirSync(leasesDir(s))) {
    if (/^\d+$/.test(id) && alive(Number(id))) live.push(id);
    else rmSync(join(leasesDir(s), id), { force: true });
  }
  return live;
}

/** Runs `fn` holding `.infra/up.lock`; waits (polling, with a deadline) while another live process holds it. */
export async function withUpLock<T>(s: InfraSettings, fn: () => Promise<T>, deadlineMs = 300_000, onWait?: (holder: number) => void): Promise<T> {
  mkdirSync(s.stateDir, { recursive: true });
  const lock = join(s.stateDir, 'up.lock');
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(lock, 'utf8').trim());
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(lock, { force: true }); // left behind by a process that died
      continue;
    }
    if (Date.now() - started > deadlineMs) {
      throw new Error(`another infra:up (pid ${holder}) has held ${lock} for ${deadlineMs / 1000} s: wait for it, or end it and remove the lock file`);
    }
    if (!told) onWait?.(holder);
    told = true;
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
