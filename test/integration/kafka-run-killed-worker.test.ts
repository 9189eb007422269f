import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { BatchProducer, endOffsets, ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { deleteTopic, topicsStartingWith } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `concord run --workers 2` with one of its processes SIGKILLed mid-run: the command's line of the whole
// run (from the partitions' checkpoints, which carry their committed counts) says every record of the
// topic once, events plus rejected, and the late counts of the input; the processes' own lines, summed,
// are short by what the killed one had committed (its share died with it). The survivor takes over the
// killed process's partition, restores it and reads the rest. Real broker, real processes, two partitions.

const s = kafkaSettings('concord-killshare-test');
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-killshare-');
const MINUTE = 60_000, B = 10_000, L = 20_000;
const PER_PARTITION = 2_000;
const definitions = {
  schemas: { views: { time: 'ts', id: 'id', key: 'url', fields: { id: 'string', ts: 'timestamp', url: 'string' } } },
  pipelines: { views_2m: { input: 'views', key: ['url'], window: { hopping: '2m', every: '1m' }, aggregates: { n: 'count' }, max_out_of_orderness: '10s', allowed_lateness: '20s' } },
};
const definitionsFile = ws.file('definitions.json', [JSON.stringify(definitions)]);
const registry = parseDefinitions(JSON.parse(readFileSync(definitionsFile, 'utf8')), definitionsFile);
// A 6 s session (the broker's minimum) keeps the takeover short; small fetches make many transactions.
const workerEnv = { CONCORD_DEFINITIONS: definitionsFile, CONCORD_KAFKA_SESSION_TIMEOUT_MS: '6000', CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '8192' };

/**
 * One partition's records in arrival order: events a second apart (three hours ago, so the time guard
 * takes them), every 13th one 30 s to 5 min behind (late for some or all of its two windows), every 97th
 * not JSON.
 */
function input(partition: number): string[] {
  const start = Math.floor((Date.now() - 3 * 3_600_000) / MINUTE) * MINUTE;
  let seed = 7 + partition;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  return Array.from({ length: PER_PARTITION }, (_, i) => {
    if (i % 97 === 96) return `not json ${partition}-${i}`;
    const ts = start + i * 1_000 - (i % 13 === 12 ? Math.floor(30_000 + random() * 270_000) : 0);
    return JSON.stringify({ id: `v${partition}-${i}`, ts, url: `/p${partition}-${i % 5}` });
  });
}

/**
 * Counted from one partition's input alone, as docs/semantics.md states the rules: W before an event is
 * the partition's largest event time so far - B - 1; an event is late for a window [start, start + 2m)
 * when start + 2m - 1 + L <= W. Each such window is a skip; an event late for both of its windows is late.
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
    const lateFor = [newest - MINUTE, newest].filter((start) => start + 2 * MINUTE - 1 + L <= w).length;
    skips += lateFor;
    if (lateFor === 2) late++;
    w = Math.max(w, ts - B - 1);
  }
  return { events, rejected, late, skips };
}

/** The numbers of a summary line of `views` (a worker's, or the command's line of the whole run), and of the line under it. */
function numbers(text: string, line: RegExp): { events: number; rejected: number; late: number; skips: number } {
  const m = line.exec(text);
  if (m === null) throw new Error(`no line ${String(line)} in:\n${text}`);
  const after = text.slice(m.index + m[0].length);
  const skips = /^[^\n]*\n\[views\] {3}late for some windows: a hopping window skipped a late event (\d+) times? /.exec(after);
  return { events: Number(m[1]), late: Number(m[2]), rejected: Number(m[3]), skips: Number(skips?.[1] ?? 0) };
}

/** The process whose parent is `parent` and whose environment names it worker `id` of `run --workers N`. */
function childWorker(parent: number, id: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`CONCORD_LOG_WORKER=${id}`)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

async function waitFor(what: string, condition: () => boolean, deadlineMs: number): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('concord run --workers 2, one process SIGKILLed mid-run: the whole run\'s line counts every record once', () => {
  const prefix = `killshare${randomUUID().slice(0, 6)}.`;
  const topic = topicNames(prefix).input('views');
  const lines = [0, 1].map((p) => input(p));
  const produce = async (from: number, to: number) => {
    const producer = await BatchProducer.connect(s);
    for (const [p, own] of lines.entries()) {
      for (let i = from; i < to; i += 100) {
        await producer.send(own.slice(i, Math.min(i + 100, to)).map((value, j) => ({ topic, partition: p, key: `/p${p}-${(i + j) % 5}`, value })));
      }
    }
    await producer.close();
  };
  beforeAll(async () => {
    await ensureTopics(s, concordTopics(registry, 2, prefix));
    await produce(0, PER_PARTITION / 2);
  }, 120_000);
  afterAll(async () => {
    for (const t of await topicsStartingWith(prefix)) await deleteTopic(t);
    ws.cleanup();
  }, 120_000);

  it('events + rejected = the topic\'s records, late and skipped windows = the input\'s; the processes\' own lines fall short', async () => {
    const want = lines.map(lateCounts).reduce((a, b) => ({ events: a.events + b.events, rejected: a.rejected + b.rejected, late: a.late + b.late, skips: a.skips + b.skips }));
    expect(want.late).toBeGreaterThan(0);
    expect(want.rejected).toBeGreaterThan(0);

    const parent = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'views_2m', '--worker-id', 'w', '--workers', '2', '--stop-when-idle', '20s'], {
      cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, ...workerEnv }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    parent.stderr.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<{ code: number | null }>((resolve) => parent.on('exit', (code) => resolve({ code })));
    const stalled = setTimeout(() => parent.kill('SIGTERM'), 200_000);
    let victimId = '';
    try {
      // A process that has committed some of the input (its progress line counts committed steps) is killed:
      // the first to say so (the first to join may read both partitions before the other joins).
      const reading = /^\[views (w-[01])\] run views \(views_2m\): [1-9]\d* events/m;
      await waitFor('a worker says it read events', () => reading.test(stderr), 90_000).catch((error: unknown) => {
        throw new Error(`${String(error)}; the run said:\n${stderr}`);
      });
      victimId = reading.exec(stderr)![1]!;
      const victim = childWorker(parent.pid!, victimId);
      expect(victim, stderr).toBeDefined();
      process.kill(victim!, 'SIGKILL');
      // The rest of each partition: the survivor reads it, the killed one's partitions once the group hands them over.
      await produce(PER_PARTITION / 2, PER_PARTITION);
      expect((await exited).code, stderr).toBe(137);
    } finally {
      clearTimeout(stalled);
      parent.kill('SIGTERM');
    }
    const records = [...(await endOffsets(s, topic)).values()].reduce((a, b) => a + b, 0);
    expect(records).toBe(2 * PER_PARTITION);
    expect(stderr).toMatch(new RegExp(`${victimId} killed by SIGKILL`));

    const whole = numbers(stderr, /^\[views\] views \(the 2 workers, from the group's checkpoints\): (\d+) events, (\d+) late[^\n]*?, (\d+) rejected/m);
    expect(whole.events + whole.rejected, stderr).toBe(records);
    expect(whole, stderr).toEqual(want);
    // Each process's own line: the killed one printed none, the survivor its share only.
    const own = (id: string) => stderr.split('\n').filter((l) => l.startsWith(`[views ${id}] `)).map((l) => l.replace(`[views ${id}] `, '[views] ')).join('\n');
    expect(own(victimId)).not.toMatch(/^\[views\] views: /m);
    const survivor = numbers(own(victimId === 'w-0' ? 'w-1' : 'w-0'), /^\[views\] views: (\d+) events, \d+ results, (\d+) late[^\n]*?, (\d+) rejected/m);
    expect(survivor.events + survivor.rejected).toBeLessThan(records);
  }, 240_000);
});
