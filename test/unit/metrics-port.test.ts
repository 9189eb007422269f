import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { metricsFromFlags, metricsPort, startMetricsServer } from '../../serve/process-metrics.ts';

// `--metrics-port` of the long-running commands: its help offers `none` (no metrics server), which was
// refused as "give a port number", so a port set in the environment could not be turned off for one run.
describe('--metrics-port', () => {
  const saved = { port: process.env.CONCORD_METRICS_PORT, host: process.env.CONCORD_METRICS_HOST };
  afterEach(() => {
    if (saved.port === undefined) delete process.env.CONCORD_METRICS_PORT;
    else process.env.CONCORD_METRICS_PORT = saved.port;
    if (saved.host === undefined) delete process.env.CONCORD_METRICS_HOST;
    else process.env.CONCORD_METRICS_HOST = saved.host;
  });

  it('none is no metrics server, also over a port the environment sets', () => {
    process.env.CONCORD_METRICS_PORT = '9464';
    expect(metricsPort({})).toBe(9464);
    expect(metricsPort({ 'metrics-port': 'none' })).toBeUndefined();
    expect(metricsPort({ 'metrics-port': '0' })).toBe(0);
  });

  it('anything but a port number or none is refused, naming both', () => {
    for (const bad of ['abc', '-1', '65536', '1e3', '0x10', '80.5']) {
      expect(() => metricsPort({ 'metrics-port': bad }), bad).toThrow(ConfigError);
      expect(() => metricsPort({ 'metrics-port': bad }), bad).toThrow(`--metrics-port ${bad}: give a port number (0: any free port; none: no metrics server)`);
    }
  });

  // Two processes given one --metrics-port: the second died with Node's EADDRINUSE stack trace (exit 1).
  it('a port another process holds is refused as a user error naming the flag and what to do', async () => {
    const first = await startMetricsServer({ port: 0 });
    try {
      const second = startMetricsServer({ port: first.port });
      await expect(second).rejects.toThrow(ConfigError);
      await expect(second).rejects.toThrow(`--metrics-port ${first.port}: 127.0.0.1:${first.port} is in use`);
      await expect(second).rejects.toThrow('give another port, or 0 for any free one');
    } finally {
      await first.close();
    }
  });

  it('an address not of this host is refused naming --metrics-host', async () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface here.
    await expect(startMetricsServer({ port: 0, host: '192.0.2.1' })).rejects.toThrow('--metrics-host 192.0.2.1 --metrics-port 0: cannot listen on 192.0.2.1:0 (EADDRNOTAVAIL)');
  });

  it('the default is loopback, and port 0 takes a free port', async () => {
    const server = await startMetricsServer({ port: 0 });
    try {
      expect(server.host).toBe('127.0.0.1');
      expect(server.port).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  // Node listens on every interface for an empty host: CONCORD_METRICS_HOST= (a template left empty) put
  // the unauthenticated metrics on *:PORT, printed as http://:PORT/metrics.
  it('an empty host is refused before anything listens, from the flag or the environment', async () => {
    expect(() => metricsPort({ 'metrics-port': '0', 'metrics-host': ' ' })).toThrow('--metrics-host: empty; name the address to listen on (default 127.0.0.1, loopback)');
    process.env.CONCORD_METRICS_HOST = '';
    expect(() => metricsPort({ 'metrics-port': '0' })).toThrow(ConfigError);
    await expect(metricsFromFlags({ 'metrics-port': '0' }, () => undefined)).rejects.toThrow('CONCORD_METRICS_HOST: empty');
    // No metrics server asked for: the host is not read.
    expect(metricsPort({})).toBeUndefined();
  });
});
