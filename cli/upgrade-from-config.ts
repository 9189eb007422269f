import { ConfigError } from '../pipeline/errors.ts';
import { UPGRADE_FROM_RELEASES, type UpgradeFrom } from '../stream/upgrade-from.ts';
import { readConfigFile } from './config.ts';

/**
 * `concord run --upgrade-from <release>` (a rolling upgrade, stream/upgrade-from.ts), layered as the
 * other settings: config file (`upgradeFrom`) < environment (CONCORD_UPGRADE_FROM) < the flag. None set:
 * this release's own formats. An empty flag or variable is no setting.
 */
export function loadUpgradeFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): UpgradeFrom | undefined {
  const config = readConfigFile(flags, env);
  let chosen: UpgradeFrom | undefined;
  const set = (value: unknown, where: string) => {
    if (!(UPGRADE_FROM_RELEASES as readonly unknown[]).includes(value)) {
      throw new ConfigError(`${where}: ${JSON.stringify(value)} is no release this one can write checkpoints for; accepted: ${UPGRADE_FROM_RELEASES.join(', ')} ` +
        '(the release the group runs now; docs/operations.md, "Upgrading")');
    }
    chosen = value as UpgradeFrom;
  };
  if (config && config.data.upgradeFrom !== undefined) set(config.data.upgradeFrom, `config file ${config.file}: upgradeFrom`);
  if (env.CONCORD_UPGRADE_FROM !== undefined && env.CONCORD_UPGRADE_FROM !== '') set(env.CONCORD_UPGRADE_FROM, 'environment CONCORD_UPGRADE_FROM');
  if (flags['upgrade-from'] !== undefined && flags['upgrade-from'] !== '') set(flags['upgrade-from'], '--upgrade-from');
  return chosen;
}

export const upgradeFromFlags = { 'upgrade-from': { type: 'string' } } as const;

export const upgradeFromOptions = [
  `--upgrade-from R           a rolling upgrade from release R (${UPGRADE_FROM_RELEASES.join(', ')}): write only checkpoints R reads,`,
  '                           restore every format; restart every worker with it, then each again without',
  '                           it (docs/operations.md, "Upgrading"); env CONCORD_UPGRADE_FROM, config upgradeFrom',
];
