import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { BatchProducer, endOffsets, ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { deleteTopic, topicsStartingWith } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// What `concord run` prints at the end counts each input offset once, over the workers of a group, also
// when a partition moved between them with work not committed (docs/semantics.md, "Counters of run"):
// worker A stalls (SIGSTOP) just before a transaction, B takes the partition over past A's session and
// reads those records again; A continues, its commit is refused. Counted on reading, A's summary held the
// refused step's records too and A + B exceeded the topic. The late counts (events late for all their
// windows, and each hopping window that skipped a late event) are checked against a count of the input.
// Real broker, real `concord run` processes, one input partition.

const s = kafkaSettings('concord-kafkasum-test');
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-kafkasum-');
const MINUTE = 60_000, B = 10_000, L = 20_000;
const definitions = {
  schemas: { views: { time: 'ts', id: 'id', key: 'url', fields: { id: 'string', ts: 'timestamp', url: 'string' } } },
  pipelines: { views_2m: { input: 'views', key: ['url'], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: '10s', allowed_lateness: '20s' } },
};
const definitionsFile = ws.file('definitions.json', [JSON.stringify(definitions)]);
const registry = parseDefinitions(JSON.parse(readFileSync(definitionsFile, 'utf8')), definitionsFile);
// A 6 s session (the broker's minimum) keeps the takeover short; small fetches make many transactions.
const workerEnv = { CONCORD_DEFINITIONS: definitionsFile, CONCORD_KAFKA_SESSION_TIMEOUT_MS: '6000', CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '8192' };

/**
 * 3,000 records in arrival order: events a second apart (three hours ago, so the time guard takes them),
 * every 13th one 30 s to 5 min behind (late for some or all of its two windows), every 97th not JSON.
 */
function input(): string[] {
  const start = Math.floor((Date.now() - 3 * 3_600_000) / MINUTE) * MINUTE;
  let seed = 7;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  return Array.from({ length: 3_000 }, (_, i) => {
    if (i % 97 === 96) return `not json ${i}`;
    const ts = start + i * 1_000 - (i % 13 === 12 ? Math.floor(30_000 + random() * 270_000) : 0);
    return JSON.stringify({ id: `v${i}`, ts, url: `/p${i % 5}` });
  });
}

/**
 * Counted from the input alone, as docs/semantics.md states the rules: W before an event is the largest
 * event time so far - B - 1 (one partition); an event is late for a window [start, start + 2m) when
 * start + 2m - 1 + L <= W. Each such window is a skip; an event late for both of its windows is late.
 */
function lateCounts(lines: readonly string[]): { events: number; rejected: number; late: number; skips: number } {
  let w = Number.NEGATIVE_INFINITY, events = 0, rejected = 0, late = 0, skips = 0;
  for (const line of lines) {
    let ts: number;
    try {
      ts = (JSON.parse(line) as { ts: number }).ts;
    } catch {
      rejected++;
      continue;
    }
    events++;
    const newest = Math.floor(ts / MINUTE) * MINUTE;
    const windows = [newest - MINUTE, newest];
    const lateFor = windows.filter((start) => start + 2 * MINUTE - 1 + L <= w).length;
    skips += lateFor;
    if (lateFor === windows.length) late++;
    w = Math.max(w, ts - B - 1);
  }
  return { events, rejected, late, skips };
}

function startWorker(prefix: string, workerId: string, extra: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'views_2m', '--worker-id', workerId, ...extra], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, ...workerEnv, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const out = { stderr: '' };
  child.stderr.on('data', (d) => { out.stderr += String(d); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, exited };
}

/** The numbers of a worker's summary line for `views`, and of the line under it (0 when absent). */
function summary(stderr: string): { events: number; rejected: number; late: number; skips: number } {
  const line = /^\[views\] views: (\d+) events, \d+ results, (\d+) late[^\n]*?, (\d+) rejected/m.exec(stderr);
  if (line === null) throw new Error(`no summary line in:\n${stderr}`);
  const skips = /^\[views\] {3}late for some windows: a hopping window skipped a late event (\d+) times? /m.exec(stderr);
  return { events: Number(line[1]), late: Number(line[2]), rejected: Number(line[3]), skips: Number(skips?.[1] ?? 0) };
}

async function waitFor(what: string, condition: () => boolean, deadlineMs: number): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const processState = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];

describe('concord run: the summary counts each input offset once when a partition moves to another worker', () => {
  const prefix = `kafkasum${randomUUID().slice(0, 6)}.`;
  const lines = input();
  beforeAll(async () => {
    await ensureTopics(s, concordTopics(registry, 1, prefix));
    const topic = topicNames(prefix).input('views');
    const producer = await BatchProducer.connect(s);
    // 100 per send: a fetch returns whole record batches, so small sends make many transactions.
    for (let i = 0; i < lines.length; i += 100) {
      await producer.send(lines.slice(i, i + 100).map((value, j) => ({ topic, key: `/p${(i + j) % 5}`, value })));
    }
    await producer.close();
  }, 120_000);
  afterAll(async () => {
    for (const topic of await topicsStartingWith(prefix)) await deleteTopic(topic);
    ws.cleanup();
  }, 120_000);

  it('A (refused after a stall) + B: events + rejected = the records of the topic; late and skipped windows = the input\'s', async () => {
    const want = lateCounts(lines);
    expect(want.late).toBeGreaterThan(0);
    expect(want.skips).toBeGreaterThan(want.late); // some events were late for their older window only
    const records = (await endOffsets(s, topicNames(prefix).input('views'))).get(0)!;
    expect(records).toBe(lines.length);

    // A stops itself just before its 4th transaction (the 1st is written on assignment, then one per fetch).
    const a = startWorker(prefix, 'a', [], { CONCORD_TEST_STOP_BEFORE_TXN: '4' });
    await waitFor('A stopped itself (SIGSTOP)', () => processState(a.child.pid!) === 'T', 60_000).catch((error: unknown) => {
      a.child.kill('SIGKILL');
      throw new Error(`${String(error)}; A said: ${a.out.stderr}`);
    });
    // B joins; once A's session expires the group gives B the partition, from A's last commit to the end.
    const b = startWorker(prefix, 'b', ['--stop-when-idle', '2s']);
    expect((await b.exited).code, b.out.stderr).toBe(0);
    process.kill(a.child.pid!, 'SIGCONT');
    const refused = /transaction refused and aborted/;
    await waitFor('A reports its refused commit', () => refused.test(a.out.stderr), 30_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3_000));
    a.child.kill('SIGTERM');
    await a.exited;
    expect(a.out.stderr, 'A\'s commit was refused by the broker').toMatch(refused);

    const [sa, sb] = [summary(a.out.stderr), summary(b.out.stderr)];
    // Both counted a share: A its committed transactions, B the rest.
    expect(sa.events, a.out.stderr).toBeGreaterThan(0);
    expect(sb.events, b.out.stderr).toBeGreaterThan(0);
    expect(sa.events + sa.rejected + sb.events + sb.rejected).toBe(records);
    expect({ events: sa.events + sb.events, rejected: sa.rejected + sb.rejected, late: sa.late + sb.late, skips: sa.skips + sb.skips }).toEqual(want);
  }, 240_000);

  it('run --workers 2: each process says its share, and the command the sum of the skipped late windows under its end line', async () => {
    const want = lateCounts(lines);
    // A group of its own reads the topic from its start again.
    const w = startWorker(prefix, 'p', ['--stop-when-idle', '3s', '--workers', '2', '--group', `${prefix}concord-views-two`]);
    const stalled = setTimeout(() => w.child.kill('SIGTERM'), 150_000);
    const r = await w.exited;
    clearTimeout(stalled);
    expect(r.code, w.out.stderr).toBe(0);
    const shares = ['p-0', 'p-1'].map((id) => {
      const own = w.out.stderr.split('\n').filter((l) => l.startsWith(`[views ${id}] `)).map((l) => l.replace(`[views ${id}] `, '[views] ')).join('\n');
      return /^\[views\] views: /m.test(own) ? summary(own) : { events: 0, rejected: 0, late: 0, skips: 0 };
    });
    expect(shares.reduce((a, b) => a + b.events + b.rejected, 0), w.out.stderr).toBe(lines.length);
    expect(shares.reduce((a, b) => a + b.skips, 0)).toBe(want.skips);
    // The command's own line (no worker named), after "2 workers ended".
    const total = /2 workers ended[^\n]*\n(?:.*\n)*?\[views\] {3}late for some windows: a hopping window skipped a late event (\d+) times /.exec(w.out.stderr);
    expect(total?.[1], w.out.stderr).toBe(String(want.skips));
  }, 180_000);
});
