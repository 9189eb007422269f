import { ConfigError } from './errors.ts';

/**
 * A number setting from the environment (CONCORD_*): its default when unset or empty, else a finite
 * number at least `min` (a whole one when `integer`). Anything else is the user's mistake, said with
 * the variable's name: read with a bare Number(), "5s" was NaN (a timeout of NaN, no retries, a
 * budget that silently fell back) far from where it was set.
 */
export function envNumber(name: string, fallback: number, o?: EnvNumberRule, env?: NodeJS.ProcessEnv): number;
export function envNumber(name: string, fallback: undefined, o?: EnvNumberRule, env?: NodeJS.ProcessEnv): number | undefined;
export function envNumber(name: string, fallback: number | undefined, o: EnvNumberRule = {}, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const n = Number(text);
  const min = o.min ?? 0;
  if (!Number.isFinite(n) || n < min || (o.integer === true && !Number.isInteger(n))) {
    const what = `${o.integer ? 'a whole number' : 'a number'}${o.unit ? ` of ${o.unit}` : ''}${min > 0 ? `, at least ${min}` : ', 0 or more'}`;
    throw new ConfigError(`environment ${name} ${JSON.stringify(text)}: use ${what}${fallback === undefined ? '' : ` (default ${fallback})`}`);
  }
  return n;
}

export interface EnvNumberRule {
  integer?: boolean;
  /** The least value taken (default 0). */
  min?: number;
  /** What the number counts, for the message (milliseconds, bytes). */
  unit?: string;
}
