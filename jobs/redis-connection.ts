import { Redis } from 'ioredis';
import { ConcordError } from '../pipeline/errors.ts';
import { redact } from '../store/sql-driver.ts';
import { envNumber } from '../pipeline/env-number.ts';

/**
 * Redis did not answer within the bounded wait (start it, or point REDIS_URL at the one that runs), or
 * answered but refused the credentials of the URL.
 */
export class RedisUnreachableError extends ConcordError {
  constructor(url: string, cause?: unknown) {
    const why = cause instanceof Error ? cause.message : '';
    const shown = redact(url);
    super(
      /NOAUTH/.test(why) ? `Redis at ${shown} wants a password: set REDIS_URL=redis://:PASSWORD@host:port (or redis://USER:PASSWORD@...)`
        : /WRONGPASS|invalid password|invalid username/i.test(why) ? `Redis at ${shown} refused the user or password of REDIS_URL: set REDIS_URL with the right ones`
          : `Redis at ${shown} does not answer; start it or set REDIS_URL`,
      { domain: 'external', retriable: true, cause },
    );
  }
}

/**
 * A Redis connection as BullMQ needs it (blocking commands: no per-request retry limit). Errors are
 * listened to here (an 'error' without a listener makes ioredis print a stack per reconnect attempt):
 * `onError` receives them, and reconnection is ioredis' own.
 */
export function redisConnection(url: string, onError: (error: Error) => void = () => undefined): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false, retryStrategy: (times) => Math.min(200 * times, 2_000) });
  redis.on('error', onError);
  return redis;
}

/**
 * Waits at most `timeoutMs` for Redis to answer a PING; throws RedisUnreachableError otherwise. What a
 * command run by a user does first, so that it says what is wrong instead of waiting forever.
 */
export async function probeRedis(url: string, timeoutMs = envNumber('CONCORD_REDIS_TIMEOUT_MS', 3_000, { min: 1, unit: 'milliseconds' })): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  // An authentication failure arrives as an 'error' event, the connect() itself only says "Connection is closed".
  let reported: Error | undefined;
  probe.on('error', (error: Error) => { reported ??= error; });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_r, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } catch (error) {
    throw new RedisUnreachableError(url, reported && /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(reported.message) ? reported : error);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/**
 * Watches connections and reports one line per change of the whole: `lost` when the first of them
 * loses Redis, `back` when all are ready again (not one line per reconnect attempt of each).
 */
export class RedisHealth {
  private readonly down = new Set<Redis>();
  private lostAt = 0;
  private readonly url: string;
  private readonly log: (line: string) => void;

  constructor(url: string, log: (line: string) => void) {
    this.url = url;
    this.log = log;
  }

  watch(redis: Redis): void {
    const lost = (error?: Error) => {
      if (this.down.has(redis)) return;
      this.down.add(redis);
      if (this.down.size === 1) {
        this.lostAt = Date.now();
        this.log(`Redis at ${redact(this.url)} lost${error ? ` (${error.message})` : ''}; reconnecting, jobs resume when it is back`);
      }
    };
    redis.on('error', (error: Error) => lost(error));
    redis.on('close', () => { if (redis.status !== 'end' && !this.closing) lost(); });
    redis.on('ready', () => {
      if (!this.down.delete(redis) || this.down.size > 0) return;
      this.log(`Redis at ${redact(this.url)} back after ${((Date.now() - this.lostAt) / 1000).toFixed(1)} s`);
    });
  }

  /** Set before closing on purpose: a deliberate disconnect is not an outage. */
  closing = false;
}
