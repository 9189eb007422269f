import { ConfigError } from '../pipeline/errors.ts';

/**
 * The day generator's options: what can be asked for (`DayOptions`, whose comment describes the generated
 * day), and their defaults and validation (`resolveOptions`).
 */

/**
 * One realistic UTC day of clicks and card transactions, as JSON lines in ARRIVAL order (the order a
 * stream processor sees them).
 *
 * - Event times follow a daily traffic curve (quiet at night, peaks mid-day and in the evening).
 * - Clicks come in sessions: a visitor views a few pages, ~half a minute apart; visitors return with
 *   a skewed frequency (~150k distinct visitors per 1M clicks); URLs have Zipf-like popularity.
 * - Card holders transact from their home country; a few travel (two countries that day). Fraud rings
 *   use compromised cards from 4-6 countries within a few minutes, so `fraud_multi_country` flags them
 *   (and, on complete data, nobody else).
 * - Arrival (see `planArrivals`): ~`outOfOrderFraction` of events arrive out of order by less than B
 *   (never late); `lateFraction` arrive long after B + L, late for every built-in pipeline (clicks:
 *   only from mobile apps syncing after being offline); everything else arrives in event-time order.
 *   The stats count exactly the events a runtime will see out of order and late.
 * - `ts` is epoch ms for most producers, ISO-8601 with `Z` for some, and with an offset for a few.
 *
 * Clicks and transactions use independent random streams: the clicks of a seed do not depend on how
 * many transactions are generated, and vice versa (`produce` generates one topic at a time).
 */
export interface DayOptions {
  seed?: number;
  /** UTC date, YYYY-MM-DD. */
  date?: string;
  clicks?: number;
  transactions?: number;
  /** Number of fraud rings; each has 2-4 compromised cards used from 4-6 countries within minutes. */
  fraudRings?: number;
  /** Fraction of events delayed by 1 ms .. B - 1 ms: out of order, but never late. */
  outOfOrderFraction?: number;
  /** Fraction of events delayed far beyond B + L (late for every built-in pipeline). */
  lateFraction?: number;
  /** B: the watermark bound the disorder is defined against (ms). */
  maxOutOfOrderness?: number;
  /** L: the allowed lateness the late delays are defined against (ms). */
  allowedLateness?: number;
  /** Fraction of lines replaced by malformed or schema-violating ones (dead-letter testing). */
  invalidFraction?: number;
}

export type Resolved = Required<DayOptions> & { dayStart: number };

export function resolveOptions(options: DayOptions): Resolved {
  const o = {
    seed: 42, date: '2026-11-23', clicks: 1_000_000, transactions: 100_000, fraudRings: 5,
    outOfOrderFraction: 0.02, lateFraction: 0.005, maxOutOfOrderness: 30_000, allowedLateness: 300_000, invalidFraction: 0,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<DayOptions>;
  if (!Number.isFinite(o.seed)) throw new ConfigError(`seed must be a finite number, got ${o.seed}`);
  const dayStart = /^\d{4}-\d{2}-\d{2}$/.test(o.date) ? Date.parse(`${o.date}T00:00:00.000Z`) : Number.NaN;
  if (!Number.isFinite(dayStart) || new Date(dayStart).toISOString().slice(0, 10) !== o.date) {
    throw new ConfigError(`date must be a UTC calendar date YYYY-MM-DD, got "${o.date}"`);
  }
  for (const key of ['clicks', 'transactions', 'fraudRings', 'maxOutOfOrderness', 'allowedLateness'] as const) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 0) throw new ConfigError(`${key} must be a non-negative integer, got ${o[key]}`);
  }
  for (const key of ['clicks', 'transactions'] as const) {
    if (o[key] > 2 ** 26) throw new ConfigError(`${key} must be at most ${2 ** 26} per day, got ${o[key]}`);
  }
  for (const key of ['outOfOrderFraction', 'lateFraction', 'invalidFraction'] as const) {
    if (!(o[key] >= 0 && o[key] <= 1)) throw new ConfigError(`${key} must be a fraction in [0, 1], got ${o[key]}`);
  }
  if (o.outOfOrderFraction + o.lateFraction > 1) {
    throw new ConfigError(`outOfOrderFraction + lateFraction must be at most 1, got ${o.outOfOrderFraction + o.lateFraction}`);
  }
  return { ...o, dayStart };
}
