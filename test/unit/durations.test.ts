import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../pipeline/errors.ts';
import { formatDuration, parseDuration } from '../../pipeline/time.ts';
import { loadSettings } from '../../cli/config.ts';

describe('durations', () => {
  it.each([
    ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['1d', 86_400_000], ['10d', 864_000_000], ['250ms', 250], ['1500', 1500], ['0', 0], ['0s', 0],
  ])('%s = %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['-1s', '1.5s', '5 minutes', '', 's', '10w', '1day'])('rejects %j with a hint', (text) => {
    expect(() => parseDuration(text, '--allowed-lateness')).toThrow(ConfigError);
    expect(() => parseDuration(text, '--allowed-lateness')).toThrow(/--allowed-lateness: .* use an integer with ms\|s\|m\|h\|d/);
  });

  it.each(['99999999999999999999h', '876001h'])('rejects %j as longer than 100 years (instants past it are no dates)', (text) => {
    expect(() => parseDuration(text, '--allowed-lateness')).toThrow(`--allowed-lateness: "${text}" is longer than 100 years (876000h); use a shorter duration`);
    expect(parseDuration('876000h')).toBe(876_000 * 3_600_000);
  });

  it('formats back', () => {
    expect([30_000, 300_000, 3_600_000, 1_500, 0].map(formatDuration)).toEqual(['30s', '5m', '1h', '1500ms', '0ms']);
  });

  it('layers settings: config file < environment < flags', () => {
    const env = { CONCORD_MAX_OUT_OF_ORDERNESS: '10s', CONCORD_ALLOWED_LATENESS: '2m' };
    expect(loadSettings({}, env)).toEqual({ maxOutOfOrderness: 10_000, allowedLateness: 120_000 });
    expect(loadSettings({ 'allowed-lateness': '0' }, env)).toEqual({ maxOutOfOrderness: 10_000, allowedLateness: 0 });
    expect(() => loadSettings({}, { CONCORD_ALLOWED_LATENESS: 'soon' })).toThrow(/environment CONCORD_ALLOWED_LATENESS/);
  });

  it.each([['null', /expected a JSON object/], ['[1]', /expected a JSON object/], ['"30s"', /expected a JSON object/],
    ['{"allowedLateness": null}', /allowedLateness: expected a duration like "30s" or a number of milliseconds, got null/],
    ['{"maxOutOfOrderness": {"s": 1}}', /maxOutOfOrderness: expected a duration .* got \{"s":1\}/]])(
    'a config file %s is refused as the user\'s mistake, saying what it must hold', (text, message) => {
      const dir = mkdtempSync(join(tmpdir(), 'concord-config-'));
      try {
        const file = join(dir, 'concord.json');
        writeFileSync(file, text);
        expect(() => loadSettings({ config: file }, {})).toThrow(ConfigError);
        expect(() => loadSettings({ config: file }, {})).toThrow(message);
        writeFileSync(file, '{"maxOutOfOrderness": 1500, "allowedLateness": "0"}');
        expect(loadSettings({ config: file }, {})).toEqual({ maxOutOfOrderness: 1500, allowedLateness: 0 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

  it('watermark alignment\'s drift: config file < environment < --max-watermark-drift', () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-config-'));
    try {
      const file = join(dir, 'concord.json');
      writeFileSync(file, JSON.stringify({ maxWatermarkDrift: '10m' }));
      expect(loadSettings({ config: file }, {})).toEqual({ maxWatermarkDrift: 600_000 });
      expect(loadSettings({ config: file }, { CONCORD_MAX_WATERMARK_DRIFT: '5m' })).toEqual({ maxWatermarkDrift: 300_000 });
      expect(loadSettings({ config: file, 'max-watermark-drift': '90s' }, { CONCORD_MAX_WATERMARK_DRIFT: '5m' })).toEqual({ maxWatermarkDrift: 90_000 });
      expect(() => loadSettings({ 'max-watermark-drift': 'far' }, {})).toThrow(/--max-watermark-drift/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
