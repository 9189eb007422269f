import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../cli/config.ts';
import { loadUpgradeFrom } from '../../cli/upgrade-from-config.ts';
import { ConfigError } from '../../pipeline/errors.ts';

// `run --upgrade-from R`: config file < environment < flag, as every setting; only the releases this one
// writes checkpoints for are accepted, anything else is a user error (exit 2) naming them.
const dir = mkdtempSync(join(tmpdir(), 'upgrade-from-'));
const config = (data: unknown) => {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(data));
  return file;
};

describe('--upgrade-from', () => {
  it('is none unless set; layered config < env < flag; an empty variable is no setting', () => {
    expect(loadUpgradeFrom({}, {})).toBeUndefined();
    const file = config({ upgradeFrom: '1202aee', maxOutOfOrderness: '30s' });
    expect(loadUpgradeFrom({ config: file }, {})).toBe('1202aee');
    expect(loadUpgradeFrom({}, { CONCORD_UPGRADE_FROM: '1202aee' })).toBe('1202aee');
    expect(loadUpgradeFrom({ 'upgrade-from': '1202aee' }, { CONCORD_UPGRADE_FROM: '' })).toBe('1202aee');
    // The other settings' loader takes the file's key as known.
    expect(loadSettings({ config: file }, {})).toEqual({ maxOutOfOrderness: 30_000 });
  });

  it('refuses another release, wherever it is set, naming the accepted ones', () => {
    const refused = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refused(() => loadUpgradeFrom({ 'upgrade-from': '4a4a1a1' }, {}))).toMatch(/^--upgrade-from: "4a4a1a1" is no release .*; accepted: 1202aee /);
    expect(refused(() => loadUpgradeFrom({}, { CONCORD_UPGRADE_FROM: '1202AEE' }))).toMatch(/^environment CONCORD_UPGRADE_FROM: "1202AEE"/);
    expect(refused(() => loadUpgradeFrom({ config: config({ upgradeFrom: 2 }) }, {}))).toMatch(/upgradeFrom: 2 is no release/);
    // Each layer is checked, as the other settings' are: a bad variable is refused under a good flag too.
    expect(refused(() => loadUpgradeFrom({ 'upgrade-from': '1202aee' }, { CONCORD_UPGRADE_FROM: 'x' }))).toMatch(/CONCORD_UPGRADE_FROM/);
  });
});
