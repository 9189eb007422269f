import { withTiming } from '../../pipeline/definition.ts';
import { envNumber } from '../../pipeline/env-number.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { parseDuration } from '../../pipeline/time.ts';
import { JobsView } from '../../serve/jobs-view.ts';
import { createLogger } from '../../serve/logger.ts';
import { READ_GATE_DEFAULTS, type ReadGateLimits } from '../../serve/read-gate.ts';
import { buildServer } from '../../serve/server.ts';
import { openStoreReader } from '../../store/open-store.ts';
import type { CommandSpec } from '../args.ts';
import { checkPath, READ_ARCHIVE } from '../paths.ts';
import { loadSettings } from '../config.ts';
import { loadRegistry, storeFlags, storeOptions, storeUrl, timingFlags, timingOptions } from './shared.ts';
import { onStopSignal } from '../stop-signals.ts';

const LOOPBACK = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export function isLoopback(host: string): boolean {
  return LOOPBACK.includes(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The Host headers a server listening on `host` answers (the DNS-rebinding guard of a loopback server):
 * the loopback names and the address it listens on (`--host 127.0.0.2` refused its own URL); undefined
 * (any) beyond loopback.
 */
export function allowedHostsFor(host: string): readonly string[] | undefined {
  return isLoopback(host) ? [...new Set([...LOOPBACK, host.toLowerCase()])] : undefined;
}

/**
 * The Redis of the jobs view: `--redis URL`, else env REDIS_URL; undefined (no jobs view) for neither,
 * an empty value, or `none`, which the help offers to turn off a REDIS_URL the environment sets (as
 * `--metrics-port none` does). `none` used to be taken for a host: /api/jobs answered 503 "Redis at
 * none failed to answer" and the dashboard showed a broken jobs view.
 */
export function jobsRedisUrl(flag: unknown, env: string | undefined): string | undefined {
  const url = flag === undefined ? env : String(flag);
  return url === undefined || url.trim() === '' || url === 'none' ? undefined : url;
}

/**
 * How many API requests read the store at once and wait for a turn (serve/read-gate.ts): `--max-reads`
 * / `--max-waiting`, else CONCORD_SERVE_MAX_READS / CONCORD_SERVE_MAX_WAITING, else the defaults.
 */
export function readLimits(flags: { 'max-reads'?: unknown; 'max-waiting'?: unknown }, env: NodeJS.ProcessEnv = process.env): ReadGateLimits {
  const one = (flag: string, value: unknown, name: string, fallback: number, min: number): number => {
    if (value === undefined) return envNumber(name, fallback, { integer: true, min }, env);
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`${flag} ${String(value)}: use a whole number, at least ${min} (default ${fallback}, env ${name})`);
    return n;
  };
  return {
    running: one('--max-reads', flags['max-reads'], 'CONCORD_SERVE_MAX_READS', READ_GATE_DEFAULTS.running, 1),
    waiting: one('--max-waiting', flags['max-waiting'], 'CONCORD_SERVE_MAX_WAITING', READ_GATE_DEFAULTS.waiting, 0),
  };
}

export const serveCommand: CommandSpec = {
  name: 'serve',
  paths: { archive: READ_ARCHIVE },
  summary: 'serve the read-only API, the live dashboard and /metrics over the result store (loopback by default)',
  usage: 'concord serve [--store URL] [--host 127.0.0.1] [--port 8080] [--archive DIR] [--redis URL] [--log-level info] [--poll 1s] [--max-reads 4] [--max-waiting 64]',
  options: [
    '--host H                   address to listen on (default 127.0.0.1, env CONCORD_SERVE_HOST); anything but',
    '                           loopback exposes the store to whoever reaches it (there is no authentication)',
    '--port N                   default 8080 (env CONCORD_SERVE_PORT); 0: any free port (printed)',
    ...storeOptions,
    '                           read only: no tables created, no writers\' lock taken; reads never wait for writers',
    '--archive DIR              the Parquet archive, for its dead letters (env CONCORD_ARCHIVE_DIR)',
    '--redis URL                BullMQ jobs to show (default env REDIS_URL; `none`, or neither: no jobs view)',
    '--log-level L              fatal|error|warn|info|debug|trace|silent (default info, env CONCORD_LOG_LEVEL);',
    '                           one JSON line per event on stdout',
    '--poll D                   how often the live stream looks for new results (default 1s; 100ms..60s)',
    `--max-reads N              API requests reading the store at once (default ${READ_GATE_DEFAULTS.running}, env CONCORD_SERVE_MAX_READS)`,
    `--max-waiting N            requests waiting for a turn; beyond, 503 with Retry-After (default ${READ_GATE_DEFAULTS.waiting}, env CONCORD_SERVE_MAX_WAITING)`,
    ...timingOptions,
    'The API is described at /api/openapi.json (docs/api.md); the dashboard is at /; metrics at /metrics.',
  ],
  flags: {
    host: { type: 'string' }, port: { type: 'string' }, archive: { type: 'string' }, redis: { type: 'string' }, 'log-level': { type: 'string' }, poll: { type: 'string' },
    'max-reads': { type: 'string' }, 'max-waiting': { type: 'string' },
    ...storeFlags, ...timingFlags,
  },
  async run(v) {
    // Each setting names where it came from: the flag, else the environment (set, even empty), else the default.
    const hostFrom = v.host !== undefined ? '--host' : process.env.CONCORD_SERVE_HOST !== undefined ? 'CONCORD_SERVE_HOST' : undefined;
    const host = String(v.host ?? process.env.CONCORD_SERVE_HOST ?? '127.0.0.1');
    // An empty host would listen on every interface: never what an empty setting meant.
    if (host.trim() === '') throw new ConfigError(`${hostFrom}: empty; name the address to listen on (default 127.0.0.1, loopback)`);
    const portFrom = v.port !== undefined ? '--port' : process.env.CONCORD_SERVE_PORT !== undefined ? 'CONCORD_SERVE_PORT' : '--port';
    const portText = String(v.port ?? process.env.CONCORD_SERVE_PORT ?? '8080');
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) throw new ConfigError(`${portFrom} ${portText}: use 0..65535`);
    // The flag was checked with the others before the command ran; the environment's value is checked here.
    if (v.archive === undefined && process.env.CONCORD_ARCHIVE_DIR) checkPath('CONCORD_ARCHIVE_DIR', process.env.CONCORD_ARCHIVE_DIR, READ_ARCHIVE);
    const pollText = String(v.poll ?? '1s');
    const pollMs = parseDuration(pollText, '--poll'); // as every duration flag: bare = ms
    if (!(pollMs >= 100 && pollMs <= 60_000)) throw new ConfigError(`--poll ${pollText}: use 100ms..60s`);
    const reads = readLimits(v);
    const log = createLogger(v['log-level'] === undefined ? undefined : String(v['log-level']));
    const timing = loadSettings(v);
    let registry = await loadRegistry(v);
    if (timing.maxOutOfOrderness !== undefined || timing.allowedLateness !== undefined) registry = registry.map((d) => withTiming(d, timing));
    const reader = await openStoreReader(storeUrl(v), { registry });
    const redis = jobsRedisUrl(v.redis, process.env.REDIS_URL);
    const archive = v.archive === undefined ? process.env.CONCORD_ARCHIVE_DIR : String(v.archive);
    const loopback = isLoopback(host);
    const allowedHosts = allowedHostsFor(host);
    const server = await buildServer({
      registry, reader, log, pollMs, reads,
      ...(redis ? { jobs: new JobsView(redis) } : {}),
      ...(archive ? { archive } : {}),
      ...(allowedHosts ? { allowedHosts } : {}),
    });
    let address: string;
    try {
      address = await server.app.listen({ host, port: Number(portText) });
    } catch (error) {
      await server.close();
      throw new ConfigError(`cannot listen on ${host}:${portText}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!loopback) log.warn({ host }, 'listening beyond loopback: whoever reaches this address can read the store (no authentication)');
    // Two serves of one database differ by schema only: say it.
    const storeSaid = reader.backend === 'postgres' ? `${reader.location} (schema ${reader.schema})` : reader.location;
    log.info({ address, store: reader.location, ...(reader.backend === 'postgres' ? { schema: reader.schema } : {}), backend: reader.backend, pipelines: registry.pipelines.length, archive: archive ?? null, redis: redis ? 'configured' : null }, 'concord serve ready');
    process.stderr.write(`concord serve: ${address}/ (dashboard), ${address}/api/openapi.json (API), ${address}/metrics — store ${storeSaid}\n`);
    await new Promise<void>((resolve) => {
      onStopSignal(() => resolve());
    });
    log.info('concord serve stopping');
    await server.close();
    return 0;
  },
};
