import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { ConfigError } from '../pipeline/errors.ts';
import { DEFAULT_DATABASE_URL, DEFAULT_STORE, storeSchema } from '../store/open-store.ts';

/**
 * The store a command means, as one comparable string without secrets: `postgres://user@host:port/db
 * schema S` or `duckdb:<absolute path> schema S` (the same defaults as `openStore`: --store, else
 * CONCORD_STORE, else the embedded file; schema as `storeSchema` reads it: ?schema= in the URL,
 * CONCORD_STORE_SCHEMA, else `concord`).
 */
export function storeIdentity(url: string | undefined, schemaName?: string): string {
  const u = url ?? process.env.CONCORD_STORE ?? DEFAULT_STORE;
  const schema = storeSchema(u, schemaName ?? process.env.CONCORD_STORE_SCHEMA);
  if (u === 'postgres' || u.startsWith('postgres://') || u.startsWith('postgresql://')) {
    try {
      const p = new URL(u === 'postgres' ? (process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL) : u);
      const user = p.username ? `${decodeURIComponent(p.username)}@` : '';
      return `postgres://${user}${p.hostname}:${p.port || '5432'}${p.pathname} schema ${schema}`;
    } catch {
      return `${u.replace(/\/\/([^:/@]*):\S*@/, '//$1@')} schema ${schema}`;
    }
  }
  if (u.startsWith('duckdb:')) {
    const path = u.slice('duckdb:'.length);
    return `duckdb:${path === '' || path === ':memory:' ? ':memory:' : resolve(path)} schema ${schema}`;
  }
  return `${u} schema ${schema}`;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  store: string;
  /** The archive it replays from (absolute): where `jobs backfill` looks for files added after a reconcile. */
  archive?: string;
  startedAt: string;
}

const key = (prefix: string, id = '*') => `${prefix}:workers:${id}`;
const TTL_MS = 30_000;

/**
 * A worker says which store it writes (and which archive it reads): one key per worker, expiring unless renewed (a killed worker
 * disappears after TTL_MS). Commands that enqueue compare their store with it. Returns `stop`.
 */
export function registerWorker(redis: Redis, prefix: string, store: string, archive?: string): { info: WorkerInfo; stop: () => Promise<void> } {
  const info: WorkerInfo = {
    id: randomUUID().slice(0, 8), host: hostname(), pid: process.pid, store, ...(archive === undefined ? {} : { archive: resolve(archive) }), startedAt: new Date().toISOString(),
  };
  const write = () => redis.set(key(prefix, info.id), JSON.stringify(info), 'PX', TTL_MS).catch(() => undefined);
  void write();
  const timer = setInterval(() => void write(), TTL_MS / 3);
  return {
    info,
    stop: async () => {
      clearInterval(timer);
      await redis.del(key(prefix, info.id)).catch(() => undefined);
    },
  };
}

export async function registeredWorkers(redis: Redis, prefix: string): Promise<WorkerInfo[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', key(prefix), 'COUNT', 200);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.flatMap((v) => (v ? [JSON.parse(v) as WorkerInfo] : [])).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/**
 * A queue prefix serves one store: its jobs carry that store, its schedule fans out over the pipelines of
 * the worker that takes the nightly run, its day locks are per pipeline name. A worker of another store
 * (another team's, started with their CONCORD_QUEUE_PREFIX) would take their jobs and fail each for good,
 * so it is refused before it registers, while workers of another store are alive on the prefix.
 */
export async function refuseOtherStores(redis: Redis, prefix: string, store: string): Promise<void> {
  const others = (await registeredWorkers(redis, prefix)).filter((w) => w.store !== store);
  if (others.length === 0) return;
  const stores = [...new Set(others.map((w) => w.store))];
  throw new ConfigError(
    `queue prefix ${prefix} has ${others.length} worker${others.length > 1 ? 's' : ''} alive writing ${stores.join(' and ')} (${others.map((w) => `${w.host}:${w.pid}`).join(', ')}), ` +
      `but this worker would write ${store}: one queue prefix serves one store; start this worker with its store's own CONCORD_QUEUE_PREFIX, or with --store of the store they write (a worker that died is forgotten ${TTL_MS / 1000} s after)`);
}
