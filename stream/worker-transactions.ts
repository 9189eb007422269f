import { GroupFencedError, type ConsumedOffsets, type OutRecord, type TransactionalProducer } from './kafka/client.ts';
import type { StepCounts } from './step-counts.ts';

/** What one committed transaction cost and carried (for metrics). */
export interface Committed {
  /** Seconds from the start of the transaction to its commit. */
  seconds: number;
  /** `performance.now()` when the step that built it began, and when it committed. */
  started: number;
  at: number;
  /** Pipelines of the window results it carried (one entry per result). */
  emitted: readonly string[];
  /** What the work it carried counts (the worker's totals take it now, not when the work was done). */
  counts: StepCounts;
}

/** What a step built besides its records: for the metrics and the totals once it commits. */
export interface StepWork {
  emitted: readonly string[];
  counts: StepCounts;
}

export interface TransactionHooks {
  /** The broker refused the transaction (KIP-447): the caller drops what it built since its last commit. */
  refused: (error: GroupFencedError) => void;
  /** Any other failure: the run ends with it. */
  failed: (error: unknown) => void;
  committed: (c: Committed) => void;
}

/**
 * A stream worker's transactions, one in flight at a time. A fetch's step starts its transaction and
 * returns, so the next fetch is processed while the broker writes; whatever must see the outcome first
 * (the next transaction, an assignment, a tick, the drain) waits for `settled`. Once one is refused,
 * every later `begin` is void (it was built on dropped state) until `resume`, at the assignment that
 * follows.
 */
export class WorkerTransactions {
  private inFlight: Promise<boolean> = Promise.resolve(true);
  /** Transactions begun so far (for the test-only stall hook, CONCORD_TEST_STOP_BEFORE_TXN). */
  private begun = 0;

  constructor(private readonly producer: TransactionalProducer, private readonly hooks: TransactionHooks) {}

  /** Waits for the transaction in flight: false when it was refused (the state it was built on is gone). */
  settled(): Promise<boolean> {
    return this.inFlight;
  }

  /** After the assignment that follows a refusal: transactions commit again. */
  resume(): void {
    this.inFlight = Promise.resolve(true);
  }

  /**
   * Commits `records` with `offsets` after the transaction in flight, unless that one was refused.
   * Resolves when this one is done (true) or refused or void (false); callers may not wait.
   */
  begin(records: OutRecord[], offsets: ConsumedOffsets | null, started: number, work: StepWork): Promise<boolean> {
    const previous = this.inFlight;
    this.inFlight = previous.then((ok) => ok && this.commit(records, offsets, started, work));
    // A failure ends the run at once, not when the next step looks.
    this.inFlight.catch((error: unknown) => this.hooks.failed(error));
    return this.inFlight;
  }

  private async commit(records: OutRecord[], offsets: ConsumedOffsets | null, started: number, work: StepWork): Promise<boolean> {
    // Test-only: stall (SIGSTOP) just before the Nth transaction, as a GC pause or a slow disk would.
    if (++this.begun === Number(process.env.CONCORD_TEST_STOP_BEFORE_TXN)) process.kill(process.pid, 'SIGSTOP');
    const before = performance.now();
    try {
      await this.producer.commit(records, offsets);
    } catch (error) {
      if (!(error instanceof GroupFencedError)) throw error;
      this.hooks.refused(error);
      return false;
    }
    const at = performance.now();
    this.hooks.committed({ seconds: (at - before) / 1000, started, at, ...work });
    return true;
  }

  async close(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    await this.producer.close().catch(() => undefined);
  }
}
