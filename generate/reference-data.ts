import { WeightedSampler } from './random.ts';

/**
 * Reference data both topics draw from: the length of a day, the countries and their weights, and the
 * daily traffic curve.
 */

export const DAY_MS = 86_400_000;

export const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'IN', 'BR', 'JP', 'CA', 'ES', 'IT', 'NL', 'PL', 'SE', 'AU', 'MX', 'IE', 'PT', 'CH'];
export const COUNTRY_WEIGHTS = [30, 10, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1];

/** Relative traffic per minute of the UTC day: a night trough, a mid-day and an evening peak. */
export function dailyCurve(): WeightedSampler {
  const w: number[] = [];
  for (let m = 0; m < 1440; m++) {
    const h = m / 60;
    w.push(0.12 + Math.exp(-((h - 13) ** 2) / 18) + 0.8 * Math.exp(-((h - 20) ** 2) / 6) + 0.25 * Math.exp(-((h - 8) ** 2) / 3));
  }
  return new WeightedSampler(w);
}
