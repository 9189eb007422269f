import { ConfigError } from '../pipeline/errors.ts';
import type { RetentionPolicy } from '../store/store-retention.ts';
import { readConfigFile } from './config.ts';

/**
 * The store's retention (store/store-retention.ts), layered as the other settings: config file
 * (`retentionDays`, `retentionVersions`) < environment (CONCORD_RETENTION_DAYS, CONCORD_RETENTION_VERSIONS)
 * < flags (--keep-days, --keep-versions). Nothing set: nothing is ever deleted.
 */
export function loadRetention(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): RetentionPolicy {
  const policy: RetentionPolicy = {};
  const config = readConfigFile(flags, env);
  const set = (key: keyof RetentionPolicy, value: unknown, where: string) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ConfigError(`${where}: expected a whole number of ${key === 'keepDays' ? 'days (e.g. 90)' : 'superseded versions to keep per day (e.g. 2)'}, got ${JSON.stringify(value)}`);
    }
    policy[key] = n;
  };
  const sources: [keyof RetentionPolicy, string, string, string][] = [
    ['keepDays', 'retentionDays', 'CONCORD_RETENTION_DAYS', 'keep-days'],
    ['keepVersions', 'retentionVersions', 'CONCORD_RETENTION_VERSIONS', 'keep-versions'],
  ];
  for (const [key, fileKey, envName, flag] of sources) {
    if (config && config.data[fileKey] !== undefined) set(key, config.data[fileKey], `config file ${config.file}: ${fileKey}`);
    if (env[envName] !== undefined && env[envName] !== '') set(key, env[envName], `environment ${envName}`);
    if (flags[flag] !== undefined) set(key, flags[flag], `--${flag}`);
  }
  return policy;
}

export const retentionFlags = { 'keep-days': { type: 'string' }, 'keep-versions': { type: 'string' }, config: { type: 'string' } } as const;

export const retentionOptions = [
  '--keep-days N              delete sealed days that ended more than N days before the pipeline\'s watermark',
  '                           (every table\'s rows of the day); env CONCORD_RETENTION_DAYS, config retentionDays',
  '--keep-versions N          of a sealed day\'s superseded reconciled versions keep the newest N (the live one,',
  '                           the one a revert goes back to and the stream\'s rows always stay);',
  '                           env CONCORD_RETENTION_VERSIONS, config retentionVersions',
  '--config FILE              JSON settings, e.g. {"retentionDays": 90, "retentionVersions": 2}; env CONCORD_CONFIG',
];
