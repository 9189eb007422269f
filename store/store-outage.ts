import { ConcordError } from '../pipeline/errors.ts';

/** A store error that running again may get past: the database down, restarting, or its connection dropped. */
export function isRetriable(error: unknown): boolean {
  return error instanceof ConcordError && error.retriable;
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * A long-running writer's wait for a store that does not answer (as Kafka Connect's and Flink's sinks
 * retry their writes): the write is tried again after a pause growing from `first` to `max`, said once
 * when the store is lost and once when it is back. Any other error is thrown at once.
 */
export class StoreOutage {
  private since: number | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly log: (line: string) => void, private readonly pauseMs = { first: 1_000, max: 15_000 }) {}

  /** The store did not answer the last write (and has not since). */
  get down(): boolean {
    return this.since !== undefined;
  }

  /** Runs `write` until it succeeds: true; false when `stop` came while the store did not answer. */
  async retry(write: () => Promise<void>): Promise<boolean> {
    for (let pause = this.pauseMs.first; ; pause = Math.min(pause * 2, this.pauseMs.max)) {
      try {
        await write();
        if (this.since !== undefined) this.log(`sink: the store answers again after ${((Date.now() - this.since) / 1000).toFixed(1)} s; writing resumed`);
        this.since = undefined;
        return true;
      } catch (error) {
        if (!isRetriable(error)) throw error;
        if (this.since === undefined) {
          this.since = Date.now();
          this.log(`sink: the store does not answer (${messageOf(error)}); retrying until it does (nothing is committed to Kafka before it is written)`);
        }
      }
      if (this.stopped) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      if (this.stopped) return false;
    }
  }

  /** Ends a wait in progress: `retry` returns false. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}
