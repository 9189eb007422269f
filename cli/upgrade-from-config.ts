import { UPGRADE_FROM_RELEASES, type UpgradeFrom } from '../stream/upgrade-from.ts';
import { layered, oneOf, readConfigFile } from './layered-settings.ts';

export const UPGRADE_FROM_SETTINGS = {
  upgradeFrom: oneOf('upgradeFrom', 'CONCORD_UPGRADE_FROM', 'upgrade-from', UPGRADE_FROM_RELEASES, 'release this one can write checkpoints for',
    ' (the release the group runs now; docs/operations.md, "Upgrading")'),
};

/**
 * `concord run --upgrade-from <release>` (a rolling upgrade, stream/upgrade-from.ts), layered as the
 * other settings (cli/layered-settings.ts): config file (`upgradeFrom`) < environment
 * (CONCORD_UPGRADE_FROM) < the flag. None set: this release's own formats.
 */
export function loadUpgradeFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): UpgradeFrom | undefined {
  return layered(UPGRADE_FROM_SETTINGS, flags, env, readConfigFile(flags, env)).upgradeFrom;
}

export const upgradeFromFlags = { 'upgrade-from': { type: 'string' } } as const;

export const upgradeFromOptions = [
  `--upgrade-from R           a rolling upgrade from release R (${UPGRADE_FROM_RELEASES.join(', ')}): write only checkpoints R reads,`,
  '                           restore every format; restart every worker with it, then each again without',
  '                           it (docs/operations.md, "Upgrading"); env CONCORD_UPGRADE_FROM, config upgradeFrom',
];
