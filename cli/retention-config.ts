import type { RetentionPolicy } from '../store/store-retention.ts';
import { layered, readConfigFile, wholeNumber } from './layered-settings.ts';

/** The retention's settings: config file key, environment variable, flag (cli/layered-settings.ts). */
export const RETENTION_SETTINGS = {
  keepDays: wholeNumber('retentionDays', 'CONCORD_RETENTION_DAYS', 'keep-days', 'days (e.g. 90)'),
  keepVersions: wholeNumber('retentionVersions', 'CONCORD_RETENTION_VERSIONS', 'keep-versions', 'superseded versions to keep per day (e.g. 2)'),
};

/**
 * The store's retention (store/store-retention.ts), layered as the other settings: config file
 * (`retentionDays`, `retentionVersions`) < environment (CONCORD_RETENTION_DAYS, CONCORD_RETENTION_VERSIONS)
 * < flags (--keep-days, --keep-versions). Nothing set: nothing is ever deleted.
 */
export function loadRetention(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): RetentionPolicy {
  return layered(RETENTION_SETTINGS, flags, env, readConfigFile(flags, env)) satisfies RetentionPolicy;
}

export const retentionFlags = { 'keep-days': { type: 'string' }, 'keep-versions': { type: 'string' }, config: { type: 'string' } } as const;

export const retentionOptions = [
  '--keep-days N              delete sealed days that ended more than N days before the pipeline\'s watermark',
  '                           (every table\'s rows of the day; the stream\'s verdicts on events of the day once every',
  '                           pipeline of their input schema is past it); env CONCORD_RETENTION_DAYS, config retentionDays',
  '--keep-versions N          of a sealed day\'s superseded reconciled versions keep the newest N (the live one,',
  '                           the one a revert goes back to and the stream\'s rows always stay);',
  '                           env CONCORD_RETENTION_VERSIONS, config retentionVersions',
  '--config FILE              JSON settings, e.g. {"retentionDays": 90, "retentionVersions": 2}; env CONCORD_CONFIG',
];
