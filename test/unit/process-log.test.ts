import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { processLog } from '../../cli/logging.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { createLogger } from '../../serve/logger.ts';

function capture(): { out: PassThrough; lines: () => string[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => { text += String(d); });
  return { out, lines: () => text.split('\n').filter(Boolean) };
}

describe('process logs (--log-format, --log-level)', () => {
  it('json: one object per line with time, level, service, msg and the fields', async () => {
    const { out, lines } = capture();
    const log = processLog({ 'log-format': 'json' }, 'concord-test', out);
    log.info('run clicks: 3 events', { context: 'clicks', events: 3 });
    log.lineSink('transactions')('assigned partitions 0,1');
    log.warn('lag growing', { lag: 10 });
    await new Promise((r) => setImmediate(r));
    const parsed = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => [p.service, p.level, p.msg])).toEqual([
      ['concord-test', 30, 'run clicks: 3 events'], ['concord-test', 30, 'assigned partitions 0,1'], ['concord-test', 40, 'lag growing'],
    ]);
    expect(parsed[0]).toMatchObject({ context: 'clicks', events: 3 });
    expect(parsed[1]).toMatchObject({ context: 'transactions' });
    expect(parsed[2]).toMatchObject({ lag: 10 });
    for (const p of parsed) expect(new Date(String(p.time)).toISOString()).toBe(p.time);
  });

  it('text: the plain line with its context, levels below the setting left out', () => {
    const { out, lines } = capture();
    const log = processLog({ 'log-level': 'warn' }, 'concord-test', out);
    log.info('hidden');
    log.lineSink('clicks')('hidden too');
    log.warn('shown', { n: 1 });
    log.error('also shown', { context: 'clicks' });
    expect(lines()).toEqual(['warn: shown', 'error: [clicks] also shown']);
    const info = capture();
    processLog({}, 'concord-test', info.out).lineSink('clicks')('caught up');
    expect(info.lines()).toEqual(['[clicks] caught up']);
  });

  it('a bad level or format is a user error naming the flag', () => {
    expect(() => processLog({ 'log-format': 'xml' }, 's')).toThrow(ConfigError);
    expect(() => processLog({ 'log-format': 'xml' }, 's')).toThrow(/--log-format "xml": use one of text, json/);
    expect(() => processLog({ 'log-level': 'loud' }, 's')).toThrow(/--log-level "loud"/);
  });

  it('a bad value from the environment is said as the environment variable, not as a flag never given', () => {
    vi.stubEnv('CONCORD_LOG_LEVEL', 'verbose');
    vi.stubEnv('CONCORD_LOG_FORMAT', 'xml');
    try {
      expect(() => processLog({ 'log-format': 'text' }, 's')).toThrow(/^environment CONCORD_LOG_LEVEL "verbose": use one of fatal, /);
      expect(() => processLog({ 'log-level': 'info' }, 's')).toThrow(/^environment CONCORD_LOG_FORMAT "xml": use one of text, json/);
      expect(() => createLogger(undefined)).toThrow(/^environment CONCORD_LOG_LEVEL "verbose": use one of fatal, /);
      expect(() => createLogger('loud')).toThrow(/^--log-level "loud": use one of fatal, /);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('text: a process warning (a service\'s process.emitWarning) is a warn line of the log, not Node\'s "(node:PID)" text', async () => {
    const before = process.listeners('warning');
    const written: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { written.push(String(chunk)); return true; });
    try {
      processLog({ 'log-format': 'text' }, 'concord-test', process.stderr);
      process.emitWarning('archive file a.parquet is not read: truncated; moved to _corrupt/a.parquet', 'CorruptArchiveFile');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      write.mockRestore();
      process.removeAllListeners('warning');
      for (const l of before) process.on('warning', l);
    }
    expect(written).toEqual(['warn: archive file a.parquet is not read: truncated; moved to _corrupt/a.parquet\n']);
  });
});
