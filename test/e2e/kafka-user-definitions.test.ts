import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchConsumer, kafkaSettings, type InRecord } from '../../stream/kafka/client.ts';
import { inputTopic } from '../../stream/kafka/topics.ts';
import { concord, concordInBackground, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A user's own definitions through Kafka, all real CLI processes: a `rides` schema keyed (partitioned) by
// driver_id, pipelines keyed by city (a windowed count + sum, and lookback rules: NOT the partition
// key, so both go through the merge stage) and one keyed by driver_id (per partition). Events are
// disordered within B, so nothing is late under any interleaving of partitions: the realtime results
// must equal a file-based `concord stream` over the same events (which is the complete-data answer),
// and reconciling the day in the store must find nothing to explain.
const ws = tempWorkspace('concord-user-defs-');
afterAll(() => ws.cleanup());
const DATE = '2026-11-23';
const PIPELINES = ['rides_per_city_5m', 'fares_per_driver_1h', 'busy_city', 'crowded_city'];

const definitions = {
  description: 'Ride hailing: a user schema keyed by driver, pipelines keyed by city',
  schemas: {
    rides: {
      time: 'pickup_at', id: 'ride_id', key: 'driver_id',
      fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', city: 'string', fare: 'decimal(2)', passengers: 'int' },
    },
  },
  pipelines: {
    rides_per_city_5m: {
      input: 'rides', key: ['city'], window: { tumbling: '5m' }, aggregates: { rides: 'count', fares: ['sum', 'fare'] },
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    },
    fares_per_driver_1h: {
      input: 'rides', key: ['driver_id'], window: { tumbling: '1h' }, aggregates: { rides: 'count', fares: ['sum', 'fare'] },
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    },
    busy_city: {
      input: 'rides', key: 'city', rule: { within: '10m', count: true, more_than: 3, output: 'n' },
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    },
    // Filtered events still move the watermark: the merge learns it from the partitions' reports.
    crowded_city: {
      input: 'rides', key: 'city', where: [['passengers', '>=', 3]], rule: { within: '15m', distinct: 'driver_id', more_than: 1, output: 'drivers' },
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    },
  },
};

/** Seeded rides over three hours with bursts; 10% delayed by up to 20 s (< B = 30 s: never late); 3 bad lines. */
function rides(): string[] {
  let seed = 7;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const start = Date.parse(`${DATE}T10:00:00Z`);
  const events: { ts: number; arrival: number; line: string }[] = [];
  let t = start;
  for (let i = 0; i < 360; i++) {
    t += Math.floor((Math.floor(i / 40) % 2 === 0 ? 4_000 : 45_000) * next());
    const event = {
      ride_id: `r-${i}`,
      pickup_at: i % 5 === 0 ? new Date(t).toISOString() : t,
      driver_id: `d${Math.floor(next() * 9)}`,
      city: ['Lisbon', 'Porto', 'Braga', 'Faro'][Math.floor(next() * next() * 4)],
      fare: i % 3 === 0 ? (Math.floor(next() * 5_000) / 100).toFixed(2) : Math.floor(next() * 5_000) / 100,
      passengers: 1 + Math.floor(next() * 4),
    };
    events.push({ ts: t, arrival: t + (next() < 0.1 ? Math.floor(next() * 20_000) : 0), line: JSON.stringify(event) });
  }
  const lines = events.sort((a, b) => a.arrival - b.arrival || a.ts - b.ts).map((e) => e.line);
  lines.splice(50, 0, 'not json at all');
  lines.splice(120, 0, JSON.stringify({ ride_id: 'bad-1', pickup_at: start, driver_id: 42, city: 'Porto', fare: 1, passengers: 1 }));
  lines.splice(200, 0, JSON.stringify({ ride_id: 'bad-2', pickup_at: '2026-11-23T11:00:00', driver_id: 'd1', city: 'Porto', fare: 1, passengers: 1 }));
  return lines;
}


/** Every record of a topic, read in a fresh group. */
async function readAll(topic: string, expected: number): Promise<InRecord[]> {
  const s = kafkaSettings('concord-test');
  const records: InRecord[] = [];
  const consumer = await BatchConsumer.start(s, { groupId: `read-${randomUUID()}`, topics: [topic], onBatch: (b) => { records.push(...b.records); } });
  try {
    for (const started = Date.now(); records.length < expected && Date.now() - started < 30_000;) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.stop();
  }
  return records;
}

/** A result row's cell and its values, comparable across runtimes: pipeline|window|key -> aggregates, or pipeline|key|id -> measure. */
function cells(rows: Record<string, unknown>[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const row of rows) {
    const p = String(row.pipeline);
    if (p === 'rides_per_city_5m') out.set(`${p}|${String(row.window_start)}|${String(row.city)}`, [row.rides, row.fares]);
    else if (p === 'fares_per_driver_1h') out.set(`${p}|${String(row.window_start)}|${String(row.driver_id)}`, [row.rides, row.fares]);
    else if (p === 'busy_city') out.set(`${p}|${String(row.city)}|${String(row.ride_id)}`, [row.n, row.ts, row.late ?? false]);
    else out.set(`${p}|${String(row.city)}|${String(row.ride_id)}`, [row.drivers, row.ts, row.late ?? false]);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('a user\'s definitions end to end through a real broker (rides keyed by driver, pipelines keyed by city)', () => {
  it('produce --input, run, archive --from-kafka, sink, reconcile --date: realtime == file-based stream, 0 unexplained', async () => {
    const prefix = `u${randomUUID().slice(0, 6)}.`;
    const env = { CONCORD_TOPIC_PREFIX: prefix };
    const defs = ws.file('rides.definitions.json', [JSON.stringify(definitions)]);
    const lines = rides();
    const input = ws.file('rides.jsonl', lines);
    const d = ['--definitions', defs];

    // The generator is for the seed schemas only: a user schema needs its events.
    const noGenerator = concord(['produce', '--schema', 'rides', '--count', '10', ...d], env);
    expect(noGenerator.code).toBe(2);
    expect(noGenerator.stderr).toMatch(/schema "rides" has no generator.*pass --input FILE\.jsonl/);

    const produced = concord(['produce', '--schema', 'rides', '--input', input, '--partitions', '4', ...d], env);
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toMatch(new RegExp(`sent ${lines.length} lines .* to topic "${prefix.replace('.', '\\.')}rides" \\(keyed by driver_id\\).*; 2 keyed null`));
    // Keyed by driver_id: each driver in one partition; the bad lines are there too, to be dead-lettered.
    const records = await readAll(inputTopic('rides', prefix), lines.length);
    expect(records).toHaveLength(lines.length);
    for (const r of records) {
      let driver: unknown;
      try { driver = (JSON.parse(r.value) as Record<string, unknown>).driver_id; } catch { driver = undefined; }
      expect(r.key).toBe(typeof driver === 'string' ? driver : null);
    }

    const archive = join(ws.dir, 'archive');
    const [run, archived] = await Promise.all([
      concordInBackground(['run', '--pipeline', 'all', '--stop-when-idle', '2s', ...d], env),
      concordInBackground(['archive', '--from-kafka', '--schema', 'rides', '--dir', archive, '--stop-when-idle', '2s', ...d], env),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(archived.code, archived.stderr).toBe(0);
    expect(run.stderr).toMatch(/rides: 360 events, .* 3 rejected/);
    // The city-keyed pipelines went through the merge stage (partials, and the rules' forwarded events).
    expect(run.stderr).toMatch(/merge [^:]*: [1-9]\d* partials and rule events/);

    const realtime = join(ws.dir, 'realtime.jsonl');
    const exported = concord(['results', '--output', realtime, ...d], env);
    expect(exported.code, exported.stderr).toBe(0);
    const actual = cells(jsonLines(readFileSync(realtime, 'utf8')));

    const expected = new Map<string, unknown>();
    for (const pipeline of PIPELINES) {
      const out = join(ws.dir, `${pipeline}.stream.jsonl`);
      const r = concord(['stream', '--pipeline', pipeline, '--input', input, '--output', out, '--final', ...d]);
      expect(r.code, r.stderr).toBe(0);
      for (const [k, value] of cells(jsonLines(readFileSync(out, 'utf8')))) expected.set(k, value);
    }
    for (const pipeline of PIPELINES) expect([...expected.keys()].some((k) => k.startsWith(`${pipeline}|`)), pipeline).toBe(true);
    expect(new Map([...actual].sort(([a], [b]) => (a < b ? -1 : 1)))).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));

    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const sink = concord(['sink', '--from-kafka', '--stop-when-idle', '2s', '--store', store, ...d], env);
    expect(sink.code, sink.stderr).toBe(0);
    const reports = join(ws.dir, 'reports');
    const rec = concord(['reconcile', '--date', DATE, '--archive', archive, '--store', store, '--report-dir', reports, ...d], env);
    expect(rec.code, rec.stderr + rec.stdout).toBe(0);
    for (const pipeline of PIPELINES) {
      const stored = JSON.parse(readFileSync(join(reports, DATE, `${pipeline}.json`), 'utf8')) as { status: string; report: { cells: number; different: number; unexplained: number } };
      expect({ pipeline, status: stored.status, different: stored.report.different, unexplained: stored.report.unexplained })
        .toEqual({ pipeline, status: 'published', different: 0, unexplained: 0 });
      expect(stored.report.cells, pipeline).toBeGreaterThan(0);
    }
  }, 300_000);

  // The remedy for a changed definition is a new --group over the same topics. The merge stage of the
  // second group once read the first group's partials too (one partials topic per schema), and
  // published the old filter's totals under the new definition: 45,124 orders summed where 4,675 matched.
  it('a changed definition under a new --group on the same topics: its own numbers, not the first group\'s', async () => {
    const prefix = `g${randomUUID().slice(0, 6)}.`;
    const env = { CONCORD_TOPIC_PREFIX: prefix };
    const input = ws.file('rides-g.jsonl', rides());
    const before = ['--definitions', ws.file('rides-g1.definitions.json', [JSON.stringify(definitions)])];
    const filtered = structuredClone(definitions) as { pipelines: Record<string, Record<string, unknown>> };
    for (const name of ['rides_per_city_5m', 'busy_city']) filtered.pipelines[name]!.where = [['passengers', '>=', 3]];
    const after = ['--definitions', ws.file('rides-g2.definitions.json', [JSON.stringify(filtered)])];

    const produced = concord(['produce', '--schema', 'rides', '--input', input, '--partitions', '4', ...before], env);
    expect(produced.code, produced.stderr).toBe(0);
    const first = await concordInBackground(['run', '--pipeline', 'all', '--stop-when-idle', '2s', ...before], env);
    expect(first.code, first.stderr).toBe(0);
    const second = await concordInBackground(['run', '--pipeline', 'all', '--group', 'rides-v2', '--stop-when-idle', '2s', ...after], env);
    expect(second.code, second.stderr).toBe(0);

    // The results topic holds both groups' rows; `results` exports those of the definitions given.
    const realtime = join(ws.dir, 'realtime-g2.jsonl');
    const exported = concord(['results', '--output', realtime, ...after], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/rows of another definition version .* left out/);
    const expected = new Map<string, unknown>();
    for (const pipeline of PIPELINES) {
      const out = join(ws.dir, `${pipeline}.g2.jsonl`);
      const r = concord(['stream', '--pipeline', pipeline, '--input', input, '--output', out, '--final', ...after]);
      expect(r.code, r.stderr).toBe(0);
      for (const [k, value] of cells(jsonLines(readFileSync(out, 'utf8')))) expected.set(k, value);
    }
    expect(cells(jsonLines(readFileSync(realtime, 'utf8')))).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));

    // A sink given the changed definitions stores their rows, not the first group's (it kept the old
    // filter's counts: the revision guard dropped the new rows as replays of the same cells).
    const store = `duckdb:${join(ws.dir, 'store-g2.duckdb')}`;
    const sink = concord(['sink', '--from-kafka', '--stop-when-idle', '2s', '--store', store, ...after], env);
    expect(sink.code, sink.stderr).toBe(0);
    expect(sink.stderr).toMatch(/skipped: [1-9]\d* result rows of another definition version/);
    const report = concord(['report', '--date', DATE, '--store', store, '--format', 'json', '--pipeline', 'rides_per_city_5m', ...after]);
    expect(report.code, report.stderr).toBe(0);
    const rows = (JSON.parse(report.stdout) as { pipelines: { rows: { window_start: string; key: { city: string }; values: { rides: number; fares: unknown } }[] }[] }).pipelines[0]!.rows;
    const stored = new Map(rows.map((r) => [`rides_per_city_5m|${r.window_start}|${r.key.city}`, [r.values.rides, r.values.fares]]));
    expect(new Map([...stored].sort(([a], [b]) => (a < b ? -1 : 1)))).toEqual(new Map([...expected].filter(([k]) => k.startsWith('rides_per_city_5m|')).sort(([a], [b]) => (a < b ? -1 : 1))));
  }, 300_000);
  // `--rate` sent 2,000 records at once, then waited: at 25/s a burst and 80 s of silence, which a
  // `--stop-when-idle 20s` consumer took for the end. Paced in 50 ms sends, the records spread evenly.
  it('produce --rate N/s sends an even stream, not bursts of 2,000', async () => {
    const prefix = `r${randomUUID().slice(0, 6)}.`;
    const defs = ws.file('rides-rate.definitions.json', [JSON.stringify(definitions)]);
    const lines = rides().slice(0, 80);
    const produced = concord(['produce', '--schema', 'rides', '--input', ws.file('rides-rate.jsonl', lines), '--rate', '40/s', '--definitions', defs], { CONCORD_TOPIC_PREFIX: prefix });
    expect(produced.code, produced.stderr).toBe(0);
    const stamps = (await readAll(inputTopic('rides', prefix), lines.length)).map((r) => r.timestamp).sort((a, b) => a - b);
    expect(stamps).toHaveLength(lines.length);
    expect(stamps.at(-1)! - stamps[0]!).toBeGreaterThanOrEqual(1_500); // 80 at 40/s: about 2 s, not one send
    expect(new Set(stamps).size).toBeGreaterThanOrEqual(20);
  });
});
