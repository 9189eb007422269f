import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A lock per (pipeline, date) in Redis: SET NX PX with a random token, renewed while the holder works,
 * released only by its holder (compare-and-delete). A holder that dies lets the lock expire after `ttlMs`.
 */
export class DayLock {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly ttlMs: number;
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;

  constructor(redis: Redis, key: string, ttlMs = 30_000) {
    this.redis = redis;
    this.key = key;
    this.ttlMs = ttlMs;
  }

  /** True if taken; then it is renewed every ttl/3 until `release`. */
  async acquire(): Promise<boolean> {
    const ok = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return false;
    this.timer = setInterval(() => {
      void this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs)).catch(() => undefined);
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    return true;
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.eval(RELEASE, 1, this.key, this.token).catch(() => undefined);
  }
}
