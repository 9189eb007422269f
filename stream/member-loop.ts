/**
 * The control flow around a consumer-group member's callbacks (the stream worker, the merge stage):
 * rebalances, batches and timer ticks run one at a time, a batch waits for the assignment before it;
 * `stop` ends the run after the current step; the first failure stops it too and `wait` rethrows it
 * (in-memory state may be ahead of what committed: the restart restores the checkpoint instead).
 */
export class MemberLoop {
  stopping = false;
  private failure: unknown;
  private lock: Promise<unknown> = Promise.resolve();
  private ready: Promise<void> = Promise.resolve();
  private readonly ended: Promise<void>;
  private resolveEnd!: () => void;
  private rejectEnd!: (error: unknown) => void;

  constructor() {
    this.ended = new Promise<void>((resolve, reject) => {
      this.resolveEnd = resolve;
      this.rejectEnd = reject;
    });
    this.ended.catch(() => undefined); // observed by `wait`; a failure before it is awaited is not unhandled
  }

  /** Runs `fn` after everything queued before it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  /**
   * A new assignment: handled before any batch that follows it. Its failure (a checkpoint refused on
   * restore) ends the run at once: a group read to its end delivers no batch that would report it, and
   * a worker given a changed definition sat silent until stopped.
   */
  assigned(fn: () => Promise<void>): void {
    this.ready = this.exclusive(fn);
    this.ready.catch((error: unknown) => this.fail(error));
  }

  /** A fetched batch, after any pending assignment. False (and the loop fails) if it throws. */
  async batch(fn: () => Promise<boolean>): Promise<boolean> {
    try {
      await this.ready;
      return await this.exclusive(fn);
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  /** Resolves once the pending assignment and the step in flight are done. */
  async settled(): Promise<void> {
    await this.ready;
    await this.exclusive(async () => undefined);
  }

  /** Whether the run ended by a failure (not by `stop`): its in-memory state must not be committed. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  stop(): void {
    this.stopping = true;
    this.resolveEnd();
  }

  fail(error: unknown): void {
    this.failure = error;
    this.stopping = true;
    this.rejectEnd(error);
  }

  /** Until `stop` (resolves) or the first failure (rejects with it). */
  async wait(): Promise<void> {
    await this.ended;
    if (this.failure) throw this.failure;
  }
}
