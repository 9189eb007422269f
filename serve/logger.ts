import { pino, type DestinationStream, type Logger } from 'pino';
import { ConfigError } from '../pipeline/errors.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Structured logs: one JSON line per event on stdout (pino), with `time` as ISO 8601. The level comes
 * from `--log-level`, else env CONCORD_LOG_LEVEL, else `info`.
 */
export function createLogger(level: string | undefined, destination?: DestinationStream): Logger {
  const chosen = level ?? process.env.CONCORD_LOG_LEVEL ?? 'info';
  const from = level === undefined && process.env.CONCORD_LOG_LEVEL !== undefined ? 'environment CONCORD_LOG_LEVEL' : '--log-level';
  if (!(LOG_LEVELS as readonly string[]).includes(chosen)) throw new ConfigError(`${from} "${chosen}": use one of ${LOG_LEVELS.join(', ')}`);
  return pino({ level: chosen, base: { service: 'concord-serve' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
