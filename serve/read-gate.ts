import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { StoreReader, StoreSnapshot } from '../store/store-reader.ts';
import { ApiError } from './params.ts';

/** What the routes read the store through: the reader's description, and reads admitted by a ReadGate. */
export type ServeReader = Pick<StoreReader, 'backend' | 'location' | 'schema' | 'sealDelayMs' | 'read'>;

export interface ReadGateLimits {
  /** Requests reading the store at once (default 4: the PostgreSQL reader's pool; DuckDB runs one statement at a time anyway). */
  running: number;
  /** Requests waiting for a turn; one more is refused with 503 and Retry-After (default 64). */
  waiting: number;
}

export const READ_GATE_DEFAULTS: ReadGateLimits = { running: 4, waiting: 64 };

/**
 * Admission of the API's store reads, first come first served. Without it every request read at once:
 * 200 dashboard panels asking for a day of 5,000 rows each interleaved their statements on the store's
 * one DuckDB connection (or four PostgreSQL ones), each holding its rows until the last finished (the
 * server's RSS grew from 250 MB to 1.1 GB, every answer came after ~110 s). A request holds rows only
 * while it runs, so memory is bounded by `running` answers; past `waiting`, a client is told to come back.
 * /metrics, /readyz's probe and the live feed's poll read beside it: an overloaded API must not blind them.
 * A request whose client left while it waited (a panel's timeout, a closed tab) gives its turn away
 * unread: a wall of panels that time out and ask again would otherwise keep the queue full of answers
 * no one reads.
 */
export class ReadGate {
  readonly limits: ReadGateLimits;
  private active = 0;
  private readonly queue: (() => void)[] = [];
  /** Requests refused because the queue was full (metrics). */
  refused = 0;
  /** Requests whose client left before their turn came (metrics). */
  abandoned = 0;
  /** The request a read is made for (set by `enter`, from the server's onRequest hook). */
  private readonly request = new AsyncLocalStorage<IncomingMessage>();

  constructor(limits: Partial<ReadGateLimits> = {}) {
    this.limits = { ...READ_GATE_DEFAULTS, ...limits };
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Runs the rest of `req`'s handling (`done`) as that request's, for `run` to see whether its client is still there. */
  enter(req: IncomingMessage, done: () => void): void {
    this.request.run(req, done);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limits.running) {
      if (this.queue.length >= this.limits.waiting) {
        this.refused++;
        throw new ApiError(503, `the server is busy: ${this.active} requests are reading the store and ${this.queue.length} are waiting (at most ${this.limits.waiting})`, {
          hint: 'retry after the Retry-After seconds; poll less often, or ask for fewer rows (limit) or a shorter range', retryAfter: 2, unavailable: 'busy',
        });
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active++;
    }
    try {
      if (this.request.getStore()?.destroyed) {
        this.abandoned++;
        throw new ApiError(503, 'the client left before its turn to read the store', { unavailable: 'client_left' });
      }
      return await fn();
    } finally {
      // The turn passes to the next waiting request as is (active stays), or is given back.
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** `reader` with its reads admitted by this gate. */
  wrap(reader: StoreReader): ServeReader {
    return {
      backend: reader.backend, location: reader.location, schema: reader.schema, sealDelayMs: reader.sealDelayMs,
      read: <T>(fn: (s: StoreSnapshot) => Promise<T>) => this.run(() => reader.read(fn)),
    };
  }
}
