import { ConfigError } from '../pipeline/errors.ts';
import type { Millis } from '../pipeline/time.ts';
import { LOG_LEVELS, type LogLevel } from '../serve/logger.ts';
import { READ_GATE_DEFAULTS } from '../serve/read-gate.ts';
import { boundedDuration, layered, oneOf, readConfigFile, type Setting } from './layered-settings.ts';
import { checkPath, READ_ARCHIVE } from './paths.ts';

/** A text setting that must not be empty: an empty host would listen on every interface, never what it meant. */
function nonEmptyText(file: string, env: string, flag: string, what: string): Setting<string> {
  return {
    file, env, flag, givenWhenEmpty: true,
    read: (value, where) => {
      if (typeof value !== 'string') throw new ConfigError(`${where}: expected ${what} as a string, got ${JSON.stringify(value)}`);
      if (value.trim() === '') throw new ConfigError(`${where}: empty; name ${what}`);
      return value;
    },
  };
}

/** A whole number in min..max, written as plain digits (or a JSON number in the file). */
function boundedNumber(file: string, env: string, flag: string, min: number, max: number, givenWhenEmpty = false): Setting<number> {
  return {
    file, env, flag, givenWhenEmpty,
    read: (value, where) => {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
      if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${where} ${JSON.stringify(value)}: use a whole number ${min}..${max}`);
      return n;
    },
  };
}

/** A directory to read (the archive): checked as its flag is, naming where it came from. */
function archiveDir(file: string, env: string, flag: string): Setting<string> {
  return {
    file, env, flag,
    read: (value, where) => {
      if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}: expected a directory, got ${JSON.stringify(value)}`);
      // The flag was checked before the command ran. A path's message names a variable bare, as
      // CONCORD_DEFINITIONS's does (`CONCORD_ARCHIVE_DIR <dir>: no such directory ...`).
      if (!where.startsWith('--')) checkPath(where.replace(/^environment /, ''), value, READ_ARCHIVE);
      return value;
    },
  };
}

/** A URL, as given (`none` is read by the caller). */
function url(file: string, env: string, flag: string): Setting<string> {
  return {
    file, env, flag,
    read: (value, where) => {
      if (typeof value !== 'string') throw new ConfigError(`${where}: expected a URL, got ${JSON.stringify(value)}`);
      return value;
    },
  };
}

/**
 * `concord serve`'s own settings: config file key, environment variable, flag. The keys are prefixed
 * `serve`: one config file serves every command, and `host` or `port` alone would not say whose.
 */
export const SERVE_SETTINGS = {
  host: nonEmptyText('serveHost', 'CONCORD_SERVE_HOST', 'host', 'the address to listen on (default 127.0.0.1, loopback)'),
  port: boundedNumber('servePort', 'CONCORD_SERVE_PORT', 'port', 0, 65_535, true),
  poll: boundedDuration('servePoll', 'CONCORD_SERVE_POLL', 'poll', { min: 100, max: 60_000, use: '100ms..60s' }),
  maxReads: boundedNumber('serveMaxReads', 'CONCORD_SERVE_MAX_READS', 'max-reads', 1, 1_000_000),
  maxWaiting: boundedNumber('serveMaxWaiting', 'CONCORD_SERVE_MAX_WAITING', 'max-waiting', 0, 1_000_000),
  logLevel: oneOf('serveLogLevel', 'CONCORD_LOG_LEVEL', 'log-level', LOG_LEVELS, 'log level'),
  archive: archiveDir('serveArchive', 'CONCORD_ARCHIVE_DIR', 'archive'),
  redis: url('serveRedis', 'REDIS_URL', 'redis'),
};

export interface ServeSettings {
  host: string;
  port: number;
  pollMs: Millis;
  reads: { running: number; waiting: number };
  logLevel: LogLevel;
  archive: string | undefined;
  /** The jobs view's Redis; undefined: none (`none`, an empty value, or not set). */
  redis: string | undefined;
}

/**
 * `concord serve`'s settings, layered as every command's (cli/layered-settings.ts): flag > environment
 * > config file (`--config FILE` or CONCORD_CONFIG) > default. Loopback by default.
 */
export function loadServeSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServeSettings {
  const s = layered(SERVE_SETTINGS, flags, env, readConfigFile(flags, env));
  return {
    host: s.host ?? '127.0.0.1',
    port: s.port ?? 8080,
    pollMs: s.poll ?? 1000,
    reads: { running: s.maxReads ?? READ_GATE_DEFAULTS.running, waiting: s.maxWaiting ?? READ_GATE_DEFAULTS.waiting },
    logLevel: s.logLevel ?? 'info',
    archive: s.archive,
    // `none` turns off a REDIS_URL the environment sets (as `--metrics-port none` does): never a host named "none".
    redis: s.redis === undefined || s.redis.trim() === '' || s.redis === 'none' ? undefined : s.redis,
  };
}
