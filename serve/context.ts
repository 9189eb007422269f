import type { Logger } from 'pino';
import type { Registry } from '../pipeline/registry.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { JobsView } from './jobs-view.ts';
import type { LiveFeed } from './live-feed.ts';
import type { ServeReader } from './read-gate.ts';

/** What every route reads from: the loaded definitions, the store (read-only), and the optional sources. */
export interface ServeContext {
  readonly registry: Registry;
  /** The store, its reads admitted by the server's ReadGate. */
  readonly reader: ServeReader;
  /** BullMQ, when Redis is configured (--redis or REDIS_URL). */
  readonly jobs: JobsView | undefined;
  readonly deadLetters: DeadLetters;
  readonly live: LiveFeed;
  readonly log: Logger;
  readonly now: () => number;
}

/** What an empty store's answers say to run. */
export const EMPTY_HINT = 'the store has no results yet: run `concord demo` (a whole day, embedded), or `concord stream --store URL` / `concord run` + `concord sink` to fill it';
