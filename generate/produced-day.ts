import { DEFAULT_ALLOWED_LATENESS } from '../pipeline/definition.ts';
import { generateDay, type GeneratedDay } from './realistic-day.ts';

/** The seed schemas the generator knows. */
export type GeneratedSchema = 'clicks' | 'transactions';

/** `concord produce`'s generator defaults (its flags override them). */
export const PRODUCE_DEFAULTS = { seed: 42, disorderMs: 20_000, lateFraction: 0.005, invalidFraction: 0, fraudRings: 5 } as const;

export interface ProducedDayOptions {
  schema: GeneratedSchema;
  count: number;
  date: string;
  seed?: number;
  /** Out-of-order bound B for 2% of events (ms). */
  disorderMs?: number;
  lateFraction?: number;
  invalidFraction?: number;
  /** transactions: groups of cards used from many countries. */
  fraudRings?: number;
}

/**
 * The day `concord produce --schema S --count N` sends, for anything that must send the same events
 * (the chaos harness feeds them in slices): late means more than B + the default allowed lateness
 * behind the newest event.
 */
export function producedDay(o: ProducedDayOptions): { day: GeneratedDay; lines: readonly string[]; disorderMs: number } {
  const d = { ...PRODUCE_DEFAULTS, ...withoutUndefined(o) };
  const day = generateDay({
    seed: d.seed, date: o.date,
    clicks: o.schema === 'clicks' ? o.count : 0, transactions: o.schema === 'transactions' ? o.count : 0,
    fraudRings: o.schema === 'transactions' ? d.fraudRings : 0,
    maxOutOfOrderness: d.disorderMs, allowedLateness: DEFAULT_ALLOWED_LATENESS,
    lateFraction: d.lateFraction, invalidFraction: d.invalidFraction,
  });
  return { day, lines: o.schema === 'clicks' ? day.clicks : day.transactions, disorderMs: d.disorderMs };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
