import { readFileSync } from 'node:fs';
import { ConfigError } from '../pipeline/errors.ts';
import { parseDuration, type Millis } from '../pipeline/time.ts';
import { checkPath, COMMON_PATH_FLAGS } from './paths.ts';

/**
 * Settings given three ways, lowest first: the config file (`--config FILE`, else env CONCORD_CONFIG;
 * a JSON object) < environment < command-line flags. One setting names its key in each and how its
 * value is read; a bad value is a ConfigError (exit 2) naming where it came from: `config file F: key`,
 * `environment NAME`, or `--flag`.
 */
export interface Setting<T> {
  /** Its key in the config file. */
  readonly file: string;
  /** Its environment variable (empty: not set). */
  readonly env: string;
  /** Its flag, without `--`. */
  readonly flag: string;
  /**
   * An empty environment value is given (and read, so `read` may refuse it) rather than unset: an
   * `X=` in an env file that cleared a host must not quietly become the default.
   */
  readonly givenWhenEmpty?: boolean;
  /** The value from any source (a file's JSON value, an env's or a flag's text), `where` naming it. */
  readonly read: (value: unknown, where: string) => T;
}

/** A duration: "30s", "5m", "250ms", "1500" (ms); in the file also a number of milliseconds. */
export function duration(file: string, env: string, flag: string): Setting<Millis> {
  return {
    file, env, flag,
    read: (value, where) => {
      // String() of null or an object would be "null" / "[object Object]": say what was given instead.
      if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`${where}: expected a duration like "30s" or a number of milliseconds, got ${JSON.stringify(value)}`);
      return parseDuration(String(value), where);
    },
  };
}

/**
 * A duration within bounds (`use` says them, e.g. "100ms..60s" or "100ms or more (e.g. 5m)"): an
 * interval of 0 would poll or restart a job over and over.
 */
export function boundedDuration(file: string, env: string, flag: string, bounds: { min: Millis; max?: Millis; use: string }): Setting<Millis> {
  const d = duration(file, env, flag);
  return {
    ...d,
    read: (value, where) => {
      const ms = d.read(value, where);
      if (!(ms >= bounds.min && ms <= (bounds.max ?? Number.POSITIVE_INFINITY))) throw new ConfigError(`${where} ${String(value)}: use ${bounds.use}`);
      return ms;
    },
  };
}

/** A whole number, 0 or more; `what` says what it counts, for the message (e.g. 'days (e.g. 90)'). */
export function wholeNumber(file: string, env: string, flag: string, what: string): Setting<number> {
  return {
    file, env, flag,
    read: (value, where) => {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${where}: expected a whole number of ${what}, got ${JSON.stringify(value)}`);
      return n;
    },
  };
}

/** One of `values` exactly; anything else is refused as no `what`, listing the accepted ones (and `hint`). */
export function oneOf<T extends string>(file: string, env: string, flag: string, values: readonly T[], what: string, hint = ''): Setting<T> {
  return {
    file, env, flag,
    read: (value, where) => {
      if (!(values as readonly unknown[]).includes(value)) throw new ConfigError(`${where}: ${JSON.stringify(value)} is no ${what}; accepted: ${values.join(', ')}${hint}`);
      return value as T;
    },
  };
}

/** The config file as read: its name and its JSON object. */
export interface ConfigFile { file: string; data: Record<string, unknown> }

/** The config file (`--config FILE`, else CONCORD_CONFIG) as its JSON object, with its name; none: null. */
export function readConfigFile(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ConfigFile | null {
  const file = (flags.config as string | undefined) ?? env.CONCORD_CONFIG;
  if (!file) return null;
  checkPath(flags.config === undefined ? 'CONCORD_CONFIG' : '--config', file, COMMON_PATH_FLAGS.config!);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  // `null`, a list or a bare value parse as JSON too: say what the file must hold (Object.entries(null) threw a TypeError).
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`config file ${file}: expected a JSON object like {"maxOutOfOrderness": "30s", "allowedLateness": "5m"}, got ${JSON.stringify(data)}`);
  }
  return { file, data: data as Record<string, unknown> };
}

/** Refuses a key of the config file none of `known` names (a typo would be ignored otherwise). */
export function checkConfigKeys(config: ConfigFile | null, known: readonly string[]): void {
  for (const key of Object.keys(config?.data ?? {})) {
    if (!known.includes(key)) throw new ConfigError(`config file ${config!.file}: unknown key "${key}"; known keys: ${known.join(', ')}`);
  }
}

export type Layered<S extends Record<string, Setting<unknown>>> = { [K in keyof S]?: S[K] extends Setting<infer T> ? T : never };

/**
 * Each of `settings` from the highest source that gives it: a flag, else its environment variable (not
 * empty, unless the setting says `givenWhenEmpty`), else the config file's key; none: left out. Every source given is read (and checked), even one
 * a higher source overrides, so a bad value is said wherever it is.
 */
export function layered<S extends Record<string, Setting<unknown>>>(settings: S, flags: Record<string, unknown>, env: NodeJS.ProcessEnv, config: ConfigFile | null): Layered<S> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(settings)) {
    if (config && config.data[s.file] !== undefined) out[name] = s.read(config.data[s.file], `config file ${config.file}: ${s.file}`);
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && (fromEnv !== '' || s.givenWhenEmpty)) out[name] = s.read(fromEnv, `environment ${s.env}`);
    if (flags[s.flag] !== undefined) out[name] = s.read(flags[s.flag], `--${s.flag}`);
  }
  return out as Layered<S>;
}
