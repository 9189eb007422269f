import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clicksSchema } from '../../examples/seed.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { startMetricsServer } from '../../serve/process-metrics.ts';
import { BatchProducer, ensureTopics, kafkaSettings, type OutRecord } from '../../stream/kafka/client.ts';
import { concordTopics, partitionKeyField, topicNames } from '../../stream/kafka/topics.ts';

// Real broker, the real CLI: `concord run --metrics-port 0` is scraped while it works, and the numbers
// are checked against what was produced and what the worker says it processed.
const s = kafkaSettings('concord-test-metrics');
const root = fileURLToPath(new URL('../..', import.meta.url));
const PARTITIONS = 3, CLICKS = 300;
const BAD = ['not json at all', '{"event_id":"x1"}', '{"event_id":"x2","ts":"yesterday"}', '[1,2,3]', '{"broken":'];

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Scrape { types: Map<string, string>; samples: Sample[] }

/** The Prometheus text format, enough of it for these checks (no escaped quotes in label values here). */
function parse(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

const sum = (x: Scrape, name: string, labels: Record<string, string> = {}) =>
  x.samples.filter((p) => p.name === name && Object.entries(labels).every(([k, v]) => p.labels[k] === v)).reduce((a, p) => a + p.value, 0);

async function produce(prefix: string): Promise<{ valid: number; bad: number }> {
  await ensureTopics(s, concordTopics([clicksSchema], PARTITIONS, prefix));
  const day = generateDay({ seed: 5, date: '2026-11-23', clicks: CLICKS, transactions: 0, fraudRings: 0, lateFraction: 0, invalidFraction: 0 });
  const topic = topicNames(prefix).input('clicks');
  const keyField = partitionKeyField(clicksSchema);
  const records: OutRecord[] = day.clicks.map((value) => ({ topic, key: String((JSON.parse(value) as Record<string, unknown>)[keyField]), value }));
  records.push(...BAD.map((value) => ({ topic, key: null, value })));
  const producer = await BatchProducer.connect(s);
  try {
    await producer.send(records);
  } finally {
    await producer.close();
  }
  return { valid: day.clicks.length, bad: BAD.length };
}

describe('process metrics', () => {
  it('GET /metrics only: other paths 404, other methods 405; the port is released on close', async () => {
    const server = await startMetricsServer({ port: 0 });
    server.metrics.eventsIn('p', 3);
    server.metrics.watermark('p', '0', Date.now() - 60_000);
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    const r = await fetch(`${base}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    const x = parse(await r.text());
    expect(sum(x, 'concord_events_in_total', { pipeline: 'p' })).toBe(3);
    const lag = sum(x, 'concord_stream_watermark_lag_seconds', { pipeline: 'p', partition: '0' });
    expect(lag).toBeGreaterThanOrEqual(60);
    expect(lag).toBeLessThan(120);
    await server.close();
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
  });

  it('concord run --metrics-port: names, types and values match what the worker processed', async () => {
    const prefix = `m${randomUUID().slice(0, 6)}.`;
    const produced = await produce(prefix);
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'page_views_per_minute', '--worker-id', 'm1', '--stop-when-idle', '5s', '--metrics-port', '0',
    ], { cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: String(PARTITIONS) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The port is printed once the server listens.
      let url: string | undefined;
      for (let i = 0; i < 300 && !url; i++) {
        url = /metrics on (http:\S+)/.exec(stderr)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 100));
      }
      expect(url, stderr).toBeDefined();
      // Scrape while it runs, until every produced line was read (it then waits 5 s idle before draining).
      let x: Scrape | undefined;
      for (let i = 0; i < 200; i++) {
        x = parse(await (await fetch(url!)).text());
        if (sum(x, 'concord_events_in_total') + sum(x, 'concord_dead_letters_total') >= produced.valid + produced.bad) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(x).toBeDefined();
      // The last batch's transaction may still be committing: scrape once more when the worker is quiet (it drains after 5 s idle).
      await new Promise((r) => setTimeout(r, 1_000));
      const m = parse(await (await fetch(url!)).text());
      const types = Object.fromEntries([
        'concord_events_in_total', 'concord_events_out_total', 'concord_dead_letters_total', 'concord_late_events_total',
        'concord_stream_watermark_timestamp_seconds', 'concord_stream_watermark_lag_seconds', 'concord_consumer_lag_records',
        'concord_transaction_commit_seconds', 'concord_window_emit_delay_seconds', 'concord_checkpoint_size_bytes', 'concord_checkpoint_seconds',
        'concord_checkpoint_written_bytes_total', 'concord_state_entries', 'concord_checkpoint_restore_seconds', 'concord_checkpoint_restore_read_bytes',
        'process_cpu_seconds_total',
      ].map((n) => [n, m.types.get(n)]));
      expect(types).toEqual({
        concord_events_in_total: 'counter', concord_events_out_total: 'counter', concord_dead_letters_total: 'counter', concord_late_events_total: 'counter',
        concord_stream_watermark_timestamp_seconds: 'gauge', concord_stream_watermark_lag_seconds: 'gauge', concord_consumer_lag_records: 'gauge',
        concord_transaction_commit_seconds: 'histogram', concord_window_emit_delay_seconds: 'histogram', concord_checkpoint_size_bytes: 'gauge',
        concord_checkpoint_seconds: 'histogram', concord_checkpoint_written_bytes_total: 'counter', concord_state_entries: 'gauge',
        concord_checkpoint_restore_seconds: 'histogram', concord_checkpoint_restore_read_bytes: 'gauge', process_cpu_seconds_total: 'counter',
      });
      expect(sum(m, 'concord_events_in_total', { pipeline: 'page_views_per_minute' })).toBe(produced.valid);
      expect(sum(m, 'concord_dead_letters_total', { input: 'clicks' })).toBe(produced.bad);
      expect(sum(m, 'concord_late_events_total')).toBe(0);
      // Every assigned partition caught up: no lag.
      const lags = m.samples.filter((p) => p.name === 'concord_consumer_lag_records');
      expect(lags.length).toBe(PARTITIONS);
      expect(lags.every((p) => p.value === 0 && p.labels.topic === `${prefix}clicks`)).toBe(true);
      // The watermark: per partition and combined, in event time of the generated day, far behind the wall clock.
      const marks = m.samples.filter((p) => p.name === 'concord_stream_watermark_timestamp_seconds' && p.labels.pipeline === 'page_views_per_minute');
      expect(new Set(marks.map((p) => p.labels.partition))).toContain('all');
      for (const p of marks) expect(new Date(p.value * 1000).toISOString().slice(0, 10)).toBe('2026-11-23');
      expect(sum(m, 'concord_stream_watermark_lag_seconds', { pipeline: 'page_views_per_minute', partition: 'all' })).toBeGreaterThan(0);
      expect(sum(m, 'concord_transaction_commit_seconds_count')).toBeGreaterThan(0);
      expect(sum(m, 'concord_checkpoint_seconds_count')).toBeGreaterThan(0);
      expect(sum(m, 'concord_checkpoint_size_bytes')).toBeGreaterThan(0);
      // What the checkpoints topic took in, at least the last checkpoint; the state held (windows not dropped yet: the
      // day's last minutes); the restore at the assignment, of a topic with nothing of this group's yet.
      expect(sum(m, 'concord_checkpoint_written_bytes_total')).toBeGreaterThanOrEqual(sum(m, 'concord_checkpoint_size_bytes'));
      expect(sum(m, 'concord_state_entries', { pipeline: 'page_views_per_minute' })).toBeGreaterThan(0);
      expect(sum(m, 'concord_checkpoint_restore_seconds_count')).toBe(1);
      expect(sum(m, 'concord_checkpoint_restore_read_bytes')).toBe(0);
      // Before the drain: the windows the watermark passed already emitted (clicks are keyed by url: no merge stage),
      // each observed once in the emit delay.
      const out = sum(m, 'concord_events_out_total', { pipeline: 'page_views_per_minute' });
      expect(out).toBeGreaterThan(0);
      expect(sum(m, 'concord_window_emit_delay_seconds_count', { pipeline: 'page_views_per_minute' })).toBe(out);
      expect(await exited, stderr).toBe(0);
      const summary = /clicks: (\d+) events, (\d+) results, (\d+) late, (\d+) rejected/.exec(stderr);
      expect(summary, stderr).not.toBeNull();
      expect(Number(summary![1])).toBe(produced.valid);
      expect(Number(summary![4])).toBe(produced.bad);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
  it('concord run --log-format json: every stderr line a JSON object, the final counts as fields', async () => {
    const prefix = `j${randomUUID().slice(0, 6)}.`;
    const produced = await produce(prefix);
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'page_views_per_minute', '--worker-id', 'j1', '--stop-when-idle', '2s',
      '--metrics-port', '0', '--log-format', 'json',
    ], { cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: String(PARTITIONS) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(0);
    const lines = stderr.split('\n').filter(Boolean).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
    expect(lines.every((l) => l.service === 'concord-run' && typeof l.msg === 'string' && typeof l.level === 'number')).toBe(true);
    expect(lines.some((l) => /^metrics on http:/.test(String(l.msg)))).toBe(true);
    const final = lines.find((l) => l.final === true && l.context === 'clicks');
    expect(final, stderr).toMatchObject({ pipelines: 'page_views_per_minute', events: produced.valid, rejected: produced.bad, late: 0 });
  }, 120_000);
});
