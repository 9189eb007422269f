import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { cellKey } from '../../schemas/results.ts';
import { BatchProducer, committedOffsets, endOffsets, ensureTopics, kafkaSettings, readLatestByKey } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { concord } from '../fixtures/cli.ts';
import { streamLines } from '../fixtures/run-both.ts';
import { withMergeStageRule } from '../fixtures/merge-rule-definitions.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Real broker, real CLI processes. Each describe uses its own topic prefix, so nothing is shared.
const s = kafkaSettings('concord-test');
const root = fileURLToPath(new URL('../..', import.meta.url));
const CLICKS = 20_000, TXNS = 4_000, SEED = 11, DATE = '2026-11-23';

// The seed definitions plus a rule keyed by country over transactions partitioned by user_id: a key's
// events span partitions, so it runs in the merge stage (kills and two workers included).
const ws = tempWorkspace('concord-worker-');
afterAll(() => ws.cleanup());
const { definitionsFile, registry } = withMergeStageRule(ws.file);
const withDefinitions = { CONCORD_DEFINITIONS: definitionsFile };

/** What the file-based stream runtime says for the same (on-time) events: the final value per cell. */
async function expectedResults(clicks = CLICKS): Promise<Map<string, unknown>> {
  const expected = new Map<string, unknown>();
  for (const schema of ['clicks', 'transactions'] as const) {
    const day = generateDay({
      seed: SEED, date: DATE, clicks: schema === 'clicks' ? clicks : 0, transactions: schema === 'transactions' ? TXNS : 0,
      fraudRings: schema === 'transactions' ? 5 : 0, maxOutOfOrderness: 20_000, lateFraction: 0, invalidFraction: 0.002,
    });
    for (const def of registry.pipelinesOf(schema)) {
      const { final } = await streamLines(def, schema === 'clicks' ? day.clicks : day.transactions, 5_000);
      for (const r of final) expected.set(`${r.pipeline}|${cellKey(r)}`, r.kind === 'window' ? r.values : r.value);
    }
  }
  return expected;
}

async function actualResults(prefix: string): Promise<Map<string, unknown>> {
  const rows = await readLatestByKey(s, topicNames(prefix).results);
  const pipelines = new Map(registry.pipelines.map((p) => [p.name, p]));
  const out = new Map<string, unknown>();
  for (const [key, value] of rows) {
    const row = JSON.parse(value) as Record<string, unknown>;
    const def = pipelines.get(String(row.pipeline))!;
    out.set(key, def.kind === 'windowed' ? Object.fromEntries(def.aggregates.map((a) => [a.output, row[a.output]])) : row[def.rule.output]);
  }
  return out;
}

function produce(prefix: string, clicks = CLICKS): void {
  const env = { CONCORD_TOPIC_PREFIX: prefix, ...withDefinitions };
  const common = ['--seed', String(SEED), '--date', DATE, '--late-fraction', '0', '--invalid-fraction', '0.002'];
  expect(concord(['produce', '--schema', 'clicks', '--count', String(clicks), ...common], env).code).toBe(0);
  expect(concord(['produce', '--schema', 'transactions', '--count', String(TXNS), '--fraud-rings', '5', ...common], env).code).toBe(0);
}

/** Starts `concord run` as a child process; resolves with its exit code (or signal). */
function startWorker(prefix: string, extra: string[] = [], env: Record<string, string> = {}, pipeline = 'all', workerId = 'w1') {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', pipeline, '--worker-id', workerId, ...extra], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, ...withDefinitions, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exited };
}

describe('concord run: one worker over a real broker', () => {
  const prefix = `w${randomUUID().slice(0, 6)}.`;
  let expected: Map<string, unknown>;
  beforeAll(async () => {
    produce(prefix);
    expected = await expectedResults();
  }, 120_000);

  it('final results equal the file-based stream runtime for every pipeline (a rule merged across partitions included); bad records go to the DLQ', async () => {
    const { exited } = startWorker(prefix, ['--stop-when-idle', '2s']);
    const r = await exited;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/drained/);
    const actual = await actualResults(prefix);
    expect(actual.size).toBe(expected.size);
    expect([...actual.keys()].filter((k) => k.startsWith('busy_country|')).length).toBeGreaterThan(0);
    expect(new Map([...actual].sort())).toEqual(new Map([...expected].sort()));
    const dlq = await readLatestByKey(s, topicNames(prefix).deadLetter);
    expect(dlq.size).toBeGreaterThan(0);
    const sample = JSON.parse([...dlq.values()][0]!) as Record<string, unknown>;
    expect(sample).toMatchObject({ reason: expect.any(String), partition: expect.any(Number), offset: expect.any(Number) });
  }, 120_000);
});

describe('concord run: killed with SIGKILL at random moments and restarted', () => {
  const prefix = `k${randomUUID().slice(0, 6)}.`;
  // Enough clicks that every one of the kills still finds work left (20k were read by the third).
  const clicks = 80_000;
  let expected: Map<string, unknown>;
  beforeAll(async () => {
    produce(prefix, clicks);
    expected = await expectedResults(clicks);
  }, 120_000);

  // Each incarnation waits ~10 s (the session timeout) for its dead predecessor to leave four groups (two
  // inputs, two merges); on 2 cores busy with other test runs, five kills once took more than 300 s.
  // Small fetches split a killed worker's aborted transaction over several fetch responses: this test
  // found the client delivering such aborted checkpoints and partials as committed (read-committed.ts).
  it('ends with the results of an uninterrupted run: nothing lost, nothing doubled', async () => {
    const kills = Number(process.env.CONCORD_KILLS ?? 5);
    const clicks = topicNames(prefix).input('clicks');
    const total = [...(await endOffsets(s, clicks)).values()].reduce((a, b) => a + b, 0);
    const consumed = async () => [...(await committedOffsets(s, `${prefix}concord-clicks`, clicks)).values()].reduce((a, b) => a + b, 0);
    // Small fetches make many small transactions, so the kills land in the middle of the work.
    const slow = { CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '8192' };
    const progress: number[] = [];
    for (let i = 0; i < kills; i++) {
      const before = await consumed();
      // Everything read already (a fast hour: CI once read all 80k clicks by the fifth kill): no work left to interrupt.
      if (before >= total) break;
      const { child, exited } = startWorker(prefix, [], slow);
      // Kill at a random moment after this incarnation has committed something, before it is done.
      await waitFor(async () => (await consumed()) > before, 60_000).catch(async (error: unknown) => {
        child.kill('SIGKILL');
        throw new Error(`incarnation ${i + 1} committed nothing: ${String(error)}; it said:\n${(await exited).stderr}`);
      });
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      child.kill('SIGKILL');
      const r = await exited;
      expect(r.signal).toBe('SIGKILL');
      progress.push(await consumed());
    }
    // The run was really interrupted: kills hit workers with work left, each after it had committed more.
    expect(progress.filter((p) => p < total).length).toBeGreaterThanOrEqual(Math.min(2, kills));
    expect(new Set(progress).size).toBe(progress.length);
    const { exited } = startWorker(prefix, ['--stop-when-idle', '2s']);
    const r = await exited;
    expect(r.code, r.stderr).toBe(0);
    expect(await consumed()).toBe(total);
    const actual = await actualResults(prefix);
    const differing = [...new Set([...expected.keys(), ...actual.keys()])]
      .filter((k) => JSON.stringify(expected.get(k)) !== JSON.stringify(actual.get(k)))
      .map((k) => `${k}: want ${JSON.stringify(expected.get(k))}, got ${JSON.stringify(actual.get(k))}`);
    expect(differing).toEqual([]);
  }, 480_000);
});

// Two live workers rebalance while they read: commits under the old generation are refused (KIP-447), the
// refused worker replaces its consumer and restores from the checkpoints (stream/member-consumer.ts).
describe('concord run: two workers share the partitions of one group', () => {
  const prefix = `s${randomUUID().slice(0, 6)}.`;
  let expected: Map<string, unknown>;
  beforeAll(async () => {
    produce(prefix);
    expected = await expectedResults();
  }, 120_000);

  it.each(['page_views_per_minute', 'fraud_multi_country', 'unique_visitors_5m', 'busy_country'])('%s: final results equal one worker\'s', async (pipeline) => {
    const flags = ['--stop-when-idle', '3s'];
    const a = startWorker(prefix, flags, { CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '16384' }, pipeline, 'a');
    const b = startWorker(prefix, flags, { CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '16384' }, pipeline, 'b');
    // A worker that never ends fails the test with what it said (instead of hanging until the timeout).
    const stalled = setTimeout(() => [a, b].forEach((w) => w.child.kill('SIGTERM')), 120_000);
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    clearTimeout(stalled);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    // Both really took part: each was assigned a share of the partitions at some point.
    expect(ra.stderr).toMatch(/assigned \S+ partitions \[\d/);
    expect(rb.stderr).toMatch(/assigned \S+ partitions \[\d/);
    const actual = new Map([...(await actualResults(prefix))].filter(([k]) => k.startsWith(`${pipeline}|`)).sort());
    const want = new Map([...expected].filter(([k]) => k.startsWith(`${pipeline}|`)).sort());
    expect({ missing: [...want.keys()].filter((k) => !actual.has(k)), extra: [...actual.keys()].filter((k) => !want.has(k)) }).toEqual({ missing: [], extra: [] });
    expect(actual).toEqual(want);
  }, 180_000);

  it('concord run --workers 2: two processes of one command, each named in its lines; results equal one worker\'s', async () => {
    // Topics of its own: the results topic must hold what these two processes wrote, nothing earlier.
    const own = `m${randomUUID().slice(0, 6)}.`;
    produce(own);
    const w = startWorker(own, ['--stop-when-idle', '3s', '--workers', '2'], { CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '16384' }, 'page_views_per_minute', 'p');
    const stalled = setTimeout(() => w.child.kill('SIGTERM'), 120_000);
    const r = await w.exited;
    clearTimeout(stalled);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[clicks p-0\] assigned \S+ partitions \[\d/);
    expect(r.stderr).toMatch(/\[clicks p-1\] assigned \S+ partitions \[\d/);
    expect(r.stderr).toContain('2 workers ended: exit codes 0, 0');
    const actual = new Map([...(await actualResults(own))].filter(([k]) => k.startsWith('page_views_per_minute|')).sort());
    const want = new Map([...expected].filter(([k]) => k.startsWith('page_views_per_minute|')).sort());
    expect(actual).toEqual(want);
  }, 180_000);
});

async function waitFor(condition: () => Promise<boolean>, deadlineMs: number): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > deadlineMs) throw new Error(`condition not met within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('concord run: quiet partitions do not stall the watermark', () => {
  it('with data in one partition only, windows fire once the idle timeout passes (no drain needed)', async () => {
    const prefix = `i${randomUUID().slice(0, 6)}.`;
    const names = topicNames(prefix);
    await ensureTopics(s, concordTopics(seedRegistry(), 6, prefix));
    const producer = await BatchProducer.connect(s);
    // Five minutes of clicks, all in partition 0; partitions 1-5 never deliver anything.
    const start = Date.UTC(2026, 10, 23, 10);
    await producer.send(Array.from({ length: 600 }, (_, i) => ({
      topic: names.input('clicks'), partition: 0, key: '/', value: JSON.stringify({ event_id: `c${i}`, ts: start + i * 500, url: '/', visitor_id: `v${i % 7}` }),
    })));
    await producer.close();
    const { child, exited } = startWorker(prefix, ['--idle-timeout', '1s'], {}, 'page_views_per_minute');
    try {
      // Without idleness W would stay at -infinity (five partitions never deliver) and nothing would fire.
      await waitFor(async () => (await readLatestByKey(s, names.results)).size >= 4, 60_000);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const rows = [...(await readLatestByKey(s, names.results)).values()].map((v) => JSON.parse(v) as Record<string, unknown>);
    // Fired by the watermark (finite), not by a drain (+infinity): minutes 10:00..10:03 of 10:00..10:04.
    const fired = rows.filter((r) => r.watermark !== '+infinity').map((r) => [r.window_start, r.views]).sort();
    expect(fired.slice(0, 4)).toEqual([
      ['2026-11-23T10:00:00.000Z', 120], ['2026-11-23T10:01:00.000Z', 120], ['2026-11-23T10:02:00.000Z', 120], ['2026-11-23T10:03:00.000Z', 120],
    ]);
  }, 120_000);
});
