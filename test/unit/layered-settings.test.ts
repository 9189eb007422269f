import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../cli/config.ts';
import { reportFailure } from '../../cli/failure.ts';
import { duration, layered, oneOf, readConfigFile, wholeNumber } from '../../cli/layered-settings.ts';
import { loadRetention } from '../../cli/retention-config.ts';
import { ConfigError } from '../../pipeline/errors.ts';

// One layering of settings (config file < environment < flags), typed per setting, for the timing
// settings (cli/config.ts) and the store's retention (cli/retention-config.ts).
const dir = mkdtempSync(join(tmpdir(), 'concord-layered-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function configFile(data: unknown): string {
  const file = join(dir, `concord-${n++}.json`);
  writeFileSync(file, JSON.stringify(data));
  return file;
}

/** The exit status and message `concord NAME` gives for what `f` throws. */
function failure(f: () => unknown): { code: number; message: string } {
  let message = '';
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const code = reportFailure('x', error, (t) => { message += t; });
    return { code, message };
  }
  throw new Error('did not throw');
}

const SETTINGS = {
  lateness: duration('lateness', 'T_LATENESS', 'lateness'),
  days: wholeNumber('days', 'T_DAYS', 'days', 'days (e.g. 90)'),
  name: oneOf('name', 'T_NAME', 'name', ['from-file', 'from-env', 'from-flag', 'e'], 'name', ' (a test)'),
};

describe('layered settings: config file < environment < flags, per type', () => {
  it('each setting from the highest source that gives it; an empty environment variable gives none', () => {
    const config = readConfigFile({ config: configFile({ lateness: 60_000, days: 7, name: 'from-file' }) }, {});
    expect(layered(SETTINGS, {}, {}, config)).toEqual({ lateness: 60_000, days: 7, name: 'from-file' });
    const env = { T_LATENESS: '2m', T_DAYS: '30', T_NAME: 'from-env' };
    expect(layered(SETTINGS, {}, env, config)).toEqual({ lateness: 120_000, days: 30, name: 'from-env' });
    expect(layered(SETTINGS, { lateness: '5s', days: '0', name: 'from-flag' }, env, config)).toEqual({ lateness: 5_000, days: 0, name: 'from-flag' });
    expect(layered(SETTINGS, { days: '1' }, { T_LATENESS: '', T_NAME: 'e' }, config)).toEqual({ lateness: 60_000, days: 1, name: 'e' });
    expect(layered(SETTINGS, {}, {}, null)).toEqual({});
  });

  it.each([
    ['a duration', { lateness: 'soon' }, {}, {}, /config file .*concord-\d+\.json: lateness: "soon" is not a duration/],
    ['a duration', { lateness: null }, {}, {}, /config file .*: lateness: expected a duration like "30s" or a number of milliseconds, got null/],
    ['a duration', {}, { T_LATENESS: '5 minutes' }, {}, /environment T_LATENESS: "5 minutes" is not a duration/],
    ['a duration', {}, {}, { lateness: '-1s' }, /--lateness: "-1s" is not a duration/],
    ['a whole number', { days: 1.5 }, {}, {}, /config file .*: days: expected a whole number of days \(e\.g\. 90\), got 1\.5/],
    ['a whole number', {}, { T_DAYS: '90d' }, {}, /environment T_DAYS: expected a whole number of days \(e\.g\. 90\), got "90d"/],
    ['a whole number', {}, {}, { days: '-3' }, /--days: expected a whole number of days \(e\.g\. 90\), got "-3"/],
    ['one of', { name: 7 }, {}, {}, /config file .*: name: 7 is no name; accepted: from-file, from-env, from-flag, e \(a test\)/],
    ['one of', {}, {}, { name: '' }, /--name: "" is no name; accepted: /],
    ['one of', {}, { T_NAME: 'E' }, {}, /environment T_NAME: "E" is no name; accepted: /],
  ])('%s given wrong is a user error (exit 2) naming its source: %j %j %j', (_, file, env, flags, message) => {
    const config = readConfigFile({ config: configFile(file) }, {});
    const f = failure(() => layered(SETTINGS, flags, env, config));
    expect(f.code).toBe(2);
    expect(f.message).toMatch(message);
    expect(f.message).not.toMatch(/\n\s+at /);
  });

  it('a value a higher source overrides is still checked (a bad one is said, not hidden)', () => {
    const config = readConfigFile({ config: configFile({ days: 'many' }) }, {});
    expect(() => layered(SETTINGS, { days: '3' }, {}, config)).toThrow(/config file .*: days: expected a whole number/);
  });
});

describe('the timing settings and the retention layer the same way', () => {
  it('loadSettings: durations, config file < environment < flags; unknown keys refused, the retention\'s and the Kafka client\'s known', () => {
    const file = configFile({ allowedLateness: '10m', maxOutOfOrderness: 1500, retentionDays: 90, kafka: { 'security.protocol': 'SSL' } });
    expect(loadSettings({ config: file }, {})).toEqual({ allowedLateness: 600_000, maxOutOfOrderness: 1500 });
    expect(loadSettings({ config: file }, { CONCORD_ALLOWED_LATENESS: '1m' })).toEqual({ allowedLateness: 60_000, maxOutOfOrderness: 1500 });
    expect(loadSettings({ config: file, 'allowed-lateness': '0' }, { CONCORD_ALLOWED_LATENESS: '1m' })).toEqual({ allowedLateness: 0, maxOutOfOrderness: 1500 });
    const typo = configFile({ allowedLatenes: '1m' });
    const f = failure(() => loadSettings({ config: typo }, {}));
    expect(f).toEqual({ code: 2, message: `concord x: config file ${typo}: unknown key "allowedLatenes"; known keys: maxOutOfOrderness, allowedLateness, maxWatermarkDrift, retentionDays, retentionVersions, nightlyMaxWait, nightlyRecheck, upgradeFrom, serveHost, servePort, servePoll, serveMaxReads, serveMaxWaiting, serveLogLevel, serveArchive, serveRedis, kafka\n` });
  });

  it('loadRetention: whole numbers, config file < environment < flags, each error naming its source', () => {
    const file = configFile({ retentionDays: 90, retentionVersions: 2, allowedLateness: '5m' });
    expect(loadRetention({ config: file }, {})).toEqual({ keepDays: 90, keepVersions: 2 });
    expect(loadRetention({ config: file }, { CONCORD_RETENTION_DAYS: '30', CONCORD_RETENTION_VERSIONS: '' })).toEqual({ keepDays: 30, keepVersions: 2 });
    expect(loadRetention({ config: file, 'keep-versions': '0' }, { CONCORD_RETENTION_DAYS: '30', CONCORD_CONFIG: '' })).toEqual({ keepDays: 30, keepVersions: 0 });
    expect(loadRetention({}, { CONCORD_CONFIG: file })).toEqual({ keepDays: 90, keepVersions: 2 });
    const bad = configFile({ retentionVersions: '2 versions' });
    expect(failure(() => loadRetention({ config: bad }, {}))).toEqual({ code: 2, message: `concord x: config file ${bad}: retentionVersions: expected a whole number of superseded versions to keep per day (e.g. 2), got "2 versions"\n` });
    expect(failure(() => loadRetention({}, { CONCORD_RETENTION_DAYS: 'x' })).message).toMatch(/environment CONCORD_RETENTION_DAYS: expected a whole number of days/);
    expect(failure(() => loadRetention({ 'keep-days': '1.5' }, {})).message).toMatch(/^concord x: --keep-days: expected a whole number/);
    expect(loadRetention({ 'keep-days': '1000' }, {})).toEqual({ keepDays: 1000 });
  });
});
