import type { Millis } from '../pipeline/time.ts';
import { checkConfigKeys, duration, layered, readConfigFile } from './layered-settings.ts';
import { NIGHTLY_WAIT_SETTINGS } from './nightly-wait-config.ts';
import { RETENTION_SETTINGS } from './retention-config.ts';
import { SERVE_SETTINGS } from './serve-config.ts';
import { UPGRADE_FROM_SETTINGS } from './upgrade-from-config.ts';

/**
 * Settings shared by commands. Layering, lowest first: built-in defaults < config file
 * (`--config FILE` or CONCORD_CONFIG, JSON) < environment (CONCORD_*) < command-line flags
 * (cli/layered-settings.ts).
 */
export interface Settings {
  maxOutOfOrderness?: Millis;
  allowedLateness?: Millis;
  /** `concord run`: watermark alignment's drift (stream/watermark-alignment.ts); none: no alignment. */
  maxWatermarkDrift?: Millis;
}

const TIMING_SETTINGS = {
  maxOutOfOrderness: duration('maxOutOfOrderness', 'CONCORD_MAX_OUT_OF_ORDERNESS', 'max-out-of-orderness'),
  allowedLateness: duration('allowedLateness', 'CONCORD_ALLOWED_LATENESS', 'allowed-lateness'),
  maxWatermarkDrift: duration('maxWatermarkDrift', 'CONCORD_MAX_WATERMARK_DRIFT', 'max-watermark-drift'),
};

/**
 * Every key the config file may hold (the retention's, the nightly wait's, --upgrade-from's and serve's too, read by their own loaders;
 * "kafka", the Kafka client's security properties, by stream/kafka/security.ts).
 */
const CONFIG_KEYS = [...[...Object.values(TIMING_SETTINGS), ...Object.values(RETENTION_SETTINGS), ...Object.values(NIGHTLY_WAIT_SETTINGS), ...Object.values(UPGRADE_FROM_SETTINGS), ...Object.values(SERVE_SETTINGS)].map((s) => s.file), 'kafka'];

export function loadSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Settings {
  const config = readConfigFile(flags, env);
  checkConfigKeys(config, CONFIG_KEYS);
  return layered(TIMING_SETTINGS, flags, env, config) satisfies Settings;
}
