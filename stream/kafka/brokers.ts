import { ConfigError } from '../../pipeline/errors.ts';

/**
 * A host:port[,host:port] list, `from` (KAFKA_BROKERS or --brokers) naming it in errors. Kept apart from
 * the client so the CLI checks a --brokers flag without loading it.
 */
export function parseBrokers(text: string, from: string): string[] {
  const brokers = text.split(',').map((b) => b.trim()).filter(Boolean);
  // Said before any connection: an empty list overflowed the client's stack, a bad port failed after seconds.
  const what = 'name the brokers as host:port[,host:port] (unset: 127.0.0.1:9092)';
  if (brokers.length === 0) throw new ConfigError(`${from} is empty: ${what}`);
  for (const b of brokers) {
    const port = /^.+:(\d{1,5})$/.exec(b)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65_535) throw new ConfigError(`${from} "${b}" is not host:port: ${what}`);
  }
  return brokers;
}
