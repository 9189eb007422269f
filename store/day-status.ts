import { dayStart } from './rows.ts';

const DAY = 86_400_000;

/**
 * A day's status: the one vocabulary `concord report`, the API (`/api/days`) and the metrics
 * (`concord_store_days`) speak, so they never disagree about the same day:
 * - `provisional`: the stream's own numbers (version 0) are live;
 * - `reconciled`: a corrected version (1, 2, ...) is live;
 * - `sealed`: the pipeline's watermark passed the end of the day plus the seal delay (late data is
 *   kept aside as late-delta and dirty cells); it wins over `reconciled`.
 */
export const DAY_STATUSES = ['provisional', 'reconciled', 'sealed'] as const;
export type DayStatusName = (typeof DAY_STATUSES)[number];

/** A day is sealed once the pipeline's watermark passes its end plus the seal delay. */
export function isSealed(day: string, w: number | undefined | null, sealDelayMs: number): boolean {
  return w !== undefined && w !== null && w >= dayStart(day) + DAY + sealDelayMs;
}

export function dayStatusOf(o: { sealed: boolean; liveGeneration: number }): DayStatusName {
  return o.sealed ? 'sealed' : o.liveGeneration > 0 ? 'reconciled' : 'provisional';
}
