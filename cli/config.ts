import { readFileSync } from 'node:fs';
import { ConfigError } from '../pipeline/errors.ts';
import { parseDuration, type Millis } from '../pipeline/time.ts';
import { checkPath, COMMON_PATH_FLAGS } from './paths.ts';

/**
 * Settings shared by commands. Layering, lowest first: built-in defaults < config file
 * (`--config FILE` or CONCORD_CONFIG, JSON) < environment (CONCORD_*) < command-line flags.
 */
export interface Settings {
  maxOutOfOrderness?: Millis;
  allowedLateness?: Millis;
  /** `concord run`: watermark alignment's drift (stream/watermark-alignment.ts); none: no alignment. */
  maxWatermarkDrift?: Millis;
}

const KEYS: Record<keyof Settings, { env: string; flag: string }> = {
  maxOutOfOrderness: { env: 'CONCORD_MAX_OUT_OF_ORDERNESS', flag: 'max-out-of-orderness' },
  allowedLateness: { env: 'CONCORD_ALLOWED_LATENESS', flag: 'allowed-lateness' },
  maxWatermarkDrift: { env: 'CONCORD_MAX_WATERMARK_DRIFT', flag: 'max-watermark-drift' },
};

/** Keys of the config file that other loaders read (cli/retention-config.ts): not durations, not unknown. */
export const OTHER_KEYS: Record<string, string> = {
  retentionDays: 'a whole number of days', retentionVersions: 'a whole number of versions', upgradeFrom: 'a release (cli/upgrade-from-config.ts)',
};

/** The config file (`--config FILE`, else CONCORD_CONFIG) as its JSON object, with its name; none: null. */
export function readConfigFile(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): { file: string; data: Record<string, unknown> } | null {
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

export function loadSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Settings {
  const settings: Settings = {};
  const config = readConfigFile(flags, env);
  if (config) {
    const { file, data } = config;
    for (const [key, value] of Object.entries(data)) {
      if (key in OTHER_KEYS) continue;
      if (!(key in KEYS)) throw new ConfigError(`config file ${file}: unknown key "${key}"; known keys: ${[...Object.keys(KEYS), ...Object.keys(OTHER_KEYS)].join(', ')}`);
      // A duration is a string ("30s") or a number of ms; String() of null or an object named "null" / "[object Object]".
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new ConfigError(`config file ${file}: ${key}: expected a duration like "30s" or a number of milliseconds, got ${JSON.stringify(value)}`);
      }
      settings[key as keyof Settings] = parseDuration(String(value), `config file ${file}: ${key}`);
    }
  }
  for (const [key, { env: name, flag }] of Object.entries(KEYS) as [keyof Settings, { env: string; flag: string }][]) {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') settings[key] = parseDuration(fromEnv, `environment ${name}`);
    const fromFlag = flags[flag];
    if (typeof fromFlag === 'string') settings[key] = parseDuration(fromFlag, `--${flag}`);
  }
  return settings;
}
