import { pino, type DestinationStream, type Logger } from 'pino';
import { ConfigError } from '../pipeline/errors.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A log setting given by its flag, else its environment variable, else `fallback`; one of `values`.
 * A bad value is said where it came from: `--log-level "verbose"` for a value only the environment
 * gave sent users looking for a flag they never typed.
 */
export function logSetting<T extends string>(given: string | undefined, flag: string, env: string, values: readonly T[], fallback: T): T {
  const chosen = given ?? process.env[env] ?? fallback;
  if ((values as readonly string[]).includes(chosen)) return chosen as T;
  const from = given === undefined ? `environment ${env}` : `--${flag}`;
  throw new ConfigError(`${from} "${chosen}": use one of ${values.join(', ')}`);
}

/**
 * Structured logs: one JSON line per event on stdout (pino), with `time` as ISO 8601. The level comes
 * from `--log-level`, else env CONCORD_LOG_LEVEL, else `info`.
 */
export function createLogger(level: string | undefined, destination?: DestinationStream): Logger {
  const chosen = logSetting(level, 'log-level', 'CONCORD_LOG_LEVEL', LOG_LEVELS, 'info');
  return pino({ level: chosen, base: { service: 'concord-serve' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
