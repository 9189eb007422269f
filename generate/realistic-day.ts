import { generateTransactions } from './card-transactions.ts';
import { generateClicks } from './clicks.ts';
import { resolveOptions, type DayOptions } from './day-options.ts';
import type { TopicStats } from './event-lines.ts';
import { SeededRandom } from './random.ts';

/**
 * The entry point: one realistic UTC day of clicks and card transactions (see `DayOptions` for what it
 * looks like). The topics are generated in clicks.ts and card-transactions.ts; this module runs both and
 * sums their stats, and re-exports the generator's public types and `writeJsonl`.
 */

export type { DayOptions } from './day-options.ts';
export type { TopicStats } from './event-lines.ts';
export { writeJsonl } from './write-jsonl.ts';

export interface DayStats {
  /** Click lines (= the requested count; malformed ones included). */
  clicks: number;
  /** Transaction lines (= the requested count; malformed ones included). */
  transactions: number;
  outOfOrder: number;
  late: number;
  invalid: number;
  /** Compromised cards used by fraud rings. */
  fraudUsers: number;
  perTopic: { clicks: TopicStats; transactions: TopicStats };
}

export interface GeneratedDay {
  clicks: string[];
  transactions: string[];
  stats: DayStats;
  /** The user_id of every compromised card, sorted. */
  fraudUserIds: string[];
}

export function generateDay(options: DayOptions = {}): GeneratedDay {
  const o = resolveOptions(options);
  const root = new SeededRandom(o.seed);
  const clicks = generateClicks(o.clicks, root.fork('clicks'), o);
  const transactions = generateTransactions(o.transactions, o.fraudRings, root.fork('transactions'), o);
  const c = clicks.stats, t = transactions.stats;
  return {
    clicks: clicks.lines,
    transactions: transactions.lines,
    stats: {
      clicks: c.lines,
      transactions: t.lines,
      outOfOrder: c.outOfOrder + t.outOfOrder,
      late: c.late + t.late,
      invalid: c.invalid + t.invalid,
      fraudUsers: transactions.fraudUserIds.length,
      perTopic: { clicks: c, transactions: t },
    },
    fraudUserIds: transactions.fraudUserIds,
  };
}
