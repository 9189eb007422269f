import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../cli/args.ts';
import { serveCommand } from '../../cli/commands/serve.ts';
import { loadServeSettings } from '../../cli/serve-config.ts';
import { READ_GATE_DEFAULTS } from '../../serve/read-gate.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `concord serve`'s own settings, checked before it opens the store.
// Where it listens comes from --host/--port or CONCORD_SERVE_HOST/CONCORD_SERVE_PORT. An
// empty CONCORD_SERVE_HOST (an env file's `CONCORD_SERVE_HOST=`, a manifest's `value: ""`) listened on
// every interface, with a warning only, where unset means loopback; a bad CONCORD_SERVE_PORT was
// reported as the flag `--port`, which the user never gave. Both are refused naming what was given.
// The store named here does not exist: settings that are accepted get as far as that error.
const missing = 'duckdb:/nonexistent-concord-dir/store.duckdb';
const ENV = ['CONCORD_SERVE_HOST', 'CONCORD_SERVE_PORT', 'CONCORD_CONFIG'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
});
const ws = tempWorkspace('concord-serve-settings-');
afterAll(() => ws.cleanup());
let files = 0;
function configFile(data: unknown): string {
  const file = join(ws.dir, `concord-${files++}.json`);
  writeFileSync(file, JSON.stringify(data));
  return file;
}

async function serveWith(args: string[], env: Record<string, string> = {}): Promise<string> {
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, env);
  const v = parseCommandArgs(serveCommand, ['--store', missing, '--log-level', 'silent', ...args]);
  if (v === 'help') throw new Error('help');
  try {
    await serveCommand.run(v);
    return 'ran';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

// `--poll D` reads a duration as every other D flag does (`--max-out-of-orderness`, `--stop-when-idle`,
// `--timeout`: an integer with ms|s|m|h, bare = milliseconds). It took a bare number as seconds
// (`--poll 5` was 5 s, `--poll 500` refused) and refused minutes (`--poll 1m`).
describe('concord serve --poll', () => {
  const poll = (d: string) => serveWith(['--poll', d, '--port', '0']);
  it('reads a bare number as milliseconds and takes the units of every duration flag', async () => {
    for (const d of ['500', '250ms', '2s', '1m']) expect(await poll(d)).toMatch(/no store at/);
  });

  it('refuses what is out of range or not a duration, naming the flag', async () => {
    expect(await poll('5')).toMatch(/--poll 5: use 100ms\.\.60s/);
    expect(await poll('2m')).toMatch(/--poll 2m: use 100ms\.\.60s/);
    expect(await poll('fast')).toMatch(/--poll.*"fast" is not a duration/);
  });
});

describe('concord serve: where it listens', () => {
  it('refuses an empty host, from the environment or the flag, instead of listening on every interface', async () => {
    expect(await serveWith([], { CONCORD_SERVE_HOST: '' })).toMatch(/^environment CONCORD_SERVE_HOST: empty/);
    expect(await serveWith([], { CONCORD_SERVE_HOST: '  ' })).toMatch(/^environment CONCORD_SERVE_HOST: empty/);
    expect(await serveWith(['--host', ''])).toMatch(/^--host: empty/);
  });

  it('names CONCORD_SERVE_PORT when the bad port came from it', async () => {
    expect(await serveWith([], { CONCORD_SERVE_PORT: 'abc' })).toMatch(/^environment CONCORD_SERVE_PORT "abc": use a whole number 0\.\.65535/);
    expect(await serveWith([], { CONCORD_SERVE_PORT: '' })).toMatch(/^environment CONCORD_SERVE_PORT "": use a whole number 0\.\.65535/);
    expect(await serveWith(['--port', '70000'])).toMatch(/^--port "70000": use a whole number 0\.\.65535/);
  });

  it('takes good settings from either place', async () => {
    expect(await serveWith([], { CONCORD_SERVE_HOST: '127.0.0.1', CONCORD_SERVE_PORT: '0' })).toMatch(/no store at/);
    expect(await serveWith(['--host', 'localhost', '--port', '0'])).toMatch(/no store at/);
  });
});

// `--redis none` is how the help turns off the jobs view that env REDIS_URL would give (as
// `--metrics-port none` turns off a metrics port). It was taken for a Redis host named "none":
// /api/jobs answered 503 "Redis at none failed to answer" (seen in a walkthrough, session 30).
describe('concord serve --redis', () => {
  const jobsRedisUrl = (flag: string | undefined, env: string | undefined) => loadServeSettings(flag === undefined ? {} : { redis: flag }, env === undefined ? {} : { REDIS_URL: env }).redis;
  it('takes `none` and an empty value as no jobs view, also over REDIS_URL', () => {
    expect(jobsRedisUrl('none', 'redis://127.0.0.1:6379')).toBeUndefined();
    expect(jobsRedisUrl('none', undefined)).toBeUndefined();
    expect(jobsRedisUrl(undefined, 'none')).toBeUndefined();
    expect(jobsRedisUrl('', undefined)).toBeUndefined();
    expect(jobsRedisUrl(undefined, undefined)).toBeUndefined();
  });

  it('takes a URL from the flag over the environment', () => {
    expect(jobsRedisUrl('redis://10.0.0.2:6379', 'redis://127.0.0.1:6379')).toBe('redis://10.0.0.2:6379');
    expect(jobsRedisUrl(undefined, 'redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

// The read gate's limits (serve/read-gate.ts) were constants: a team with a bigger PostgreSQL pool, or a
// wall of panels that should queue longer, could not change them. Flag, else environment, else default.
describe('concord serve --max-reads / --max-waiting', () => {
  const readLimits = (flags: Record<string, string>, env: Record<string, string> = {}) => loadServeSettings(flags, env).reads;
  it('take the flag, else the environment, else the defaults', () => {
    expect(readLimits({})).toEqual(READ_GATE_DEFAULTS);
    expect(readLimits({}, { CONCORD_SERVE_MAX_READS: '8', CONCORD_SERVE_MAX_WAITING: '0' })).toEqual({ running: 8, waiting: 0 });
    expect(readLimits({ 'max-reads': '2', 'max-waiting': '10' }, { CONCORD_SERVE_MAX_READS: '8' })).toEqual({ running: 2, waiting: 10 });
  });
  it('refuse what is no whole number of at least 1 (reads) or 0 (waiting), naming where it came from', async () => {
    expect(await serveWith(['--max-reads', '0', '--port', '0'])).toMatch(/--max-reads "0": use a whole number 1\.\./);
    expect(await serveWith(['--max-waiting=-1', '--port', '0'])).toMatch(/--max-waiting "-1": use a whole number 0\.\./);
    expect(() => readLimits({}, { CONCORD_SERVE_MAX_READS: 'four' })).toThrow(/environment CONCORD_SERVE_MAX_READS "four"/);
    expect(await serveWith(['--max-reads', '3', '--port', '0'])).toMatch(/no store at/);
  });
});

// Every other setting of Concord is layered flag > environment > config file > default
// (cli/layered-settings.ts); serve's were flag or environment only, and a config file naming them
// was refused ("unknown key"), so a deployment could not keep them in the file it keeps the rest in.
describe('concord serve: settings from the config file', () => {
  it('reads each setting from the file, under the environment and the flags', () => {
    const file = configFile({ serveHost: '127.0.0.2', servePort: 9091, servePoll: '2s', serveMaxReads: 8, serveMaxWaiting: 10, serveLogLevel: 'warn', serveRedis: 'redis://10.0.0.3:6379' });
    expect(loadServeSettings({ config: file }, {})).toEqual({
      host: '127.0.0.2', port: 9091, pollMs: 2000, reads: { running: 8, waiting: 10 }, logLevel: 'warn', archive: undefined, redis: 'redis://10.0.0.3:6379',
    });
    const env = { CONCORD_SERVE_HOST: '127.0.0.3', CONCORD_SERVE_PORT: '9092', CONCORD_SERVE_MAX_READS: '2', CONCORD_LOG_LEVEL: 'error' };
    expect(loadServeSettings({ config: file }, env)).toMatchObject({ host: '127.0.0.3', port: 9092, pollMs: 2000, reads: { running: 2, waiting: 10 }, logLevel: 'error' });
    expect(loadServeSettings({ config: file, host: 'localhost', port: '0', 'log-level': 'silent', redis: 'none' }, env))
      .toMatchObject({ host: 'localhost', port: 0, logLevel: 'silent', redis: undefined });
    // The file named by the environment, as for every command.
    expect(loadServeSettings({}, { CONCORD_CONFIG: file }).port).toBe(9091);
  });

  it('keeps loopback and the defaults when nothing sets them', () => {
    expect(loadServeSettings({ config: configFile({ maxOutOfOrderness: '30s' }) }, {})).toEqual({
      host: '127.0.0.1', port: 8080, pollMs: 1000, reads: READ_GATE_DEFAULTS, logLevel: 'info', archive: undefined, redis: undefined,
    });
  });

  it('refuses a bad value of the file naming the file and its key', () => {
    const bad = (data: unknown) => { try { loadServeSettings({ config: configFile(data) }, {}); return 'taken'; } catch (error) { return (error as Error).message; } };
    expect(bad({ servePort: 70_000 })).toMatch(/^config file .*: servePort 70000: use a whole number 0\.\.65535/);
    expect(bad({ servePort: '80a' })).toMatch(/servePort "80a"/);
    expect(bad({ serveHost: '' })).toMatch(/: serveHost: empty/);
    expect(bad({ servePoll: '5m' })).toMatch(/servePoll 5m: use 100ms\.\.60s/);
    expect(bad({ serveLogLevel: 'verbose' })).toMatch(/serveLogLevel: "verbose" is no log level/);
    expect(bad({ serveArchive: join(ws.dir, 'no-such-archive') })).toMatch(/serveArchive .*no-such-archive/);
  });

  it('`concord serve --config FILE` takes the file\'s serve settings (it refused them as unknown keys)', async () => {
    const file = configFile({ serveHost: '127.0.0.1', servePort: 0, maxOutOfOrderness: '30s' });
    expect(await serveWith(['--config', file])).toMatch(/no store at/);
    expect(await serveWith([], { CONCORD_CONFIG: file })).toMatch(/no store at/);
    expect(await serveWith(['--config', configFile({ servePort: 'x' })])).toMatch(/^config file .*: servePort "x": use a whole number/);
  });
});
