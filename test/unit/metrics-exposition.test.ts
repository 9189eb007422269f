import { describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { createLogger } from '../../serve/logger.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';
import { buildServer } from '../../serve/server.ts';
import type { StoreReader } from '../../store/store-reader.ts';

// Pipeline and schema names are free text and become label values on /metrics: quotes, backslashes,
// braces, commas and `=` must reach Prometheus escaped, so the exposition stays parseable and each name
// reads back as itself. A strict reader of the text format (0.0.4), not prom-client's own code.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|nan|[+-]?inf)$/i;

interface Sample { name: string; labels: Record<string, string>; value: string }

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) continue; // a plain comment
      expect(m[2], line).toMatch(NAME);
      if (m[1] === 'TYPE') expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(m[3]);
      else expect(m[3]!.replace(/\\[\\n]/g, ''), line).not.toMatch(/\\/);
      continue;
    }
    let i = 0;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`no metric name: ${line}`);
    i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
        if (!label || line[i + label.length] !== '=' || line[i + label.length + 1] !== '"') throw new Error(`bad label at ${i}: ${line}`);
        i += label.length + 2;
        let value = '';
        for (;;) {
          const c = line[i];
          if (c === undefined) throw new Error(`unterminated label value: ${line}`);
          if (c === '"') { i++; break; }
          if (c === '\\') {
            const e = line[i + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`bad escape \\${e} in ${line}`);
            i += 2;
            continue;
          }
          value += c;
          i++;
        }
        if (label in labels) throw new Error(`label ${label} twice: ${line}`);
        labels[label] = value;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') throw new Error(`expected , or } at ${i}: ${line}`);
      }
      i++;
    }
    const rest = line.slice(i).split(' ');
    if (rest[0] !== '' || rest.length < 2 || rest.length > 3) throw new Error(`bad sample: ${line}`);
    if (!VALUE.test(rest[1]!)) throw new Error(`bad value ${rest[1]}: ${line}`);
    samples.push({ name, labels, value: rest[1]! });
  }
  return samples;
}

const hostile = ['q"uote', 'back\\slash', 'both\\"', 'a{b}c', 'x,y=z', '} 1\nfake 2', 'ünï €', '=HYPERLINK("x")', '\\n literal'];

describe('/metrics with hostile pipeline names', () => {
  it('concord serve: every per-pipeline gauge parses, each name reads back as itself', async () => {
    // A newline cannot reach a name (the definitions refuse control characters), but the labels are escaped anyway.
    const names = hostile.filter((n) => !n.includes('\n'));
    const registry = parseDefinitions({
      schemas: { 's"\\{': { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp' } } },
      pipelines: Object.fromEntries(names.map((n) => [n, { input: 's"\\{', window: { tumbling: '1m' }, aggregates: { n: 'count' } }])),
    }, 'hostile.json');
    const snapshot = {
      totals: async () => new Map(names.map((n, i) => [n, { rows: i + 1, late: 0, dirty: 0, watermark: 1_764_000_000_000 }])),
      lastReconciliations: async () => [], extent: async () => ({ first: null, last: null, rows: null }),
      // Read up to the watermark too since 2026-12-07 (a pipeline without rows has days).
      days: async () => [], dayStates: async () => new Map(), newestVersionDay: async () => null,
    };
    const reader = { close: async () => undefined, read: async (fn: (s: unknown) => unknown) => fn(snapshot), sealDelayMs: 0 } as unknown as StoreReader;
    const server = await buildServer({ registry, reader, log: createLogger('silent') });
    try {
      const r = await server.app.inject({ method: 'GET', url: '/metrics' });
      expect(r.statusCode).toBe(200);
      const rows = parseExposition(r.body).filter((s) => s.name === 'concord_store_rows');
      expect(rows.map((s) => [s.labels.pipeline, Number(s.value)])).toEqual(names.map((n, i) => [n, i + 1]));
    } finally {
      await server.close();
    }
  });

  it('the long-running processes: counters and watermarks by pipeline, schema and topic', async () => {
    const m = new PromProcessMetrics(() => 1_764_000_100_000);
    for (const n of hostile) {
      m.eventsIn(n, 2);
      m.deadLetters(n, 1);
      m.watermark(n, 'all', 1_764_000_000_000);
      m.consumerLag(n, 0, 5);
    }
    const samples = parseExposition(await m.registry.metrics());
    for (const [metric, label] of [['concord_events_in_total', 'pipeline'], ['concord_dead_letters_total', 'input'], ['concord_stream_watermark_lag_seconds', 'pipeline'], ['concord_consumer_lag_records', 'topic']] as const) {
      expect(samples.filter((s) => s.name === metric).map((s) => s.labels[label]).sort(), metric).toEqual([...hostile].sort());
    }
  });
});
