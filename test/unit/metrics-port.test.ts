import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { metricsPort } from '../../serve/process-metrics.ts';

// `--metrics-port` of the long-running commands: its help offers `none` (no metrics server), which was
// refused as "give a port number", so a port set in the environment could not be turned off for one run.
describe('--metrics-port', () => {
  const saved = process.env.CONCORD_METRICS_PORT;
  afterEach(() => {
    if (saved === undefined) delete process.env.CONCORD_METRICS_PORT;
    else process.env.CONCORD_METRICS_PORT = saved;
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
});
