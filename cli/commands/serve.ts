import { withTiming } from '../../pipeline/definition.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { JobsView } from '../../serve/jobs-view.ts';
import { createLogger } from '../../serve/logger.ts';
import { READ_GATE_DEFAULTS } from '../../serve/read-gate.ts';
import { buildServer } from '../../serve/server.ts';
import { openStoreReader } from '../../store/open-store.ts';
import type { CommandSpec } from '../args.ts';
import { READ_ARCHIVE } from '../paths.ts';
import { loadSettings } from '../config.ts';
import { loadServeSettings } from '../serve-config.ts';
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

export const serveCommand: CommandSpec = {
  name: 'serve',
  paths: { archive: READ_ARCHIVE },
  summary: 'serve the read-only API, the live dashboard and /metrics over the result store (loopback by default)',
  usage: 'concord serve [--store URL] [--host 127.0.0.1] [--port 8080] [--archive DIR] [--redis URL] [--log-level info] [--poll 1s] [--max-reads 4] [--max-waiting 64] [--config FILE]',
  options: [
    '--host H                   address to listen on (default 127.0.0.1, env CONCORD_SERVE_HOST, config serveHost);',
    '                           anything but loopback exposes the store to whoever reaches it (no authentication)',
    '--port N                   default 8080 (env CONCORD_SERVE_PORT, config servePort); 0: any free port (printed)',
    ...storeOptions,
    '                           read only: no tables created, no writers\' lock taken; reads never wait for writers',
    '--archive DIR              the Parquet archive, for its dead letters (env CONCORD_ARCHIVE_DIR,',
    '                           config serveArchive)',
    '--redis URL                BullMQ jobs to show (default env REDIS_URL, config serveRedis; `none`, or none',
    '                           set: no jobs view)',
    '--log-level L              fatal|error|warn|info|debug|trace|silent (default info, env CONCORD_LOG_LEVEL,',
    '                           config serveLogLevel); one JSON line per event on stdout',
    '--poll D                   how often the live stream looks for new results (default 1s; 100ms..60s;',
    '                           env CONCORD_SERVE_POLL, config servePoll)',
    `--max-reads N              API requests reading the store at once (default ${READ_GATE_DEFAULTS.running},`,
    '                           env CONCORD_SERVE_MAX_READS, config serveMaxReads)',
    `--max-waiting N            requests waiting for a turn; beyond, 503 with Retry-After (default ${READ_GATE_DEFAULTS.waiting},`,
    '                           env CONCORD_SERVE_MAX_WAITING, config serveMaxWaiting)',
    ...timingOptions,
    'Each setting: its flag, else its environment variable, else the config file (--config FILE or',
    'CONCORD_CONFIG, e.g. {"serveHost": "127.0.0.1", "servePort": 9090}), else its default.',
    'The API is described at /api/openapi.json (docs/api.md); the dashboard is at /; metrics at /metrics.',
  ],
  flags: {
    host: { type: 'string' }, port: { type: 'string' }, archive: { type: 'string' }, redis: { type: 'string' }, 'log-level': { type: 'string' }, poll: { type: 'string' },
    'max-reads': { type: 'string' }, 'max-waiting': { type: 'string' },
    ...storeFlags, ...timingFlags,
  },
  async run(v) {
    const timing = loadSettings(v); // first: it refuses a config file's unknown keys
    const settings = loadServeSettings(v);
    const { host, port, pollMs, reads, archive, redis } = settings;
    const log = createLogger(settings.logLevel);
    let registry = await loadRegistry(v);
    if (timing.maxOutOfOrderness !== undefined || timing.allowedLateness !== undefined) registry = registry.map((d) => withTiming(d, timing));
    const reader = await openStoreReader(storeUrl(v), { registry });
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
      address = await server.app.listen({ host, port });
    } catch (error) {
      await server.close();
      throw new ConfigError(`cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`);
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
