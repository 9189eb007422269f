import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDefinitionsPath } from '../../examples/seed.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { BatchProducer, committedOffsets, endOffsets, ensureTopics, kafkaSettings, readLatestByKey, readToEnd, type InRecord } from '../../stream/kafka/client.ts';
import { concordTopics, groupName, recordKey, topicNames } from '../../stream/kafka/topics.ts';
import { generateDay } from '../../generate/realistic-day.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A zombie worker (KIP-447): worker A stalls (SIGSTOP, as in a long GC pause) just before it commits a
// transaction, stays stopped past the session timeout while B takes its partition over and finishes the
// input, then continues (SIGCONT) and tries to commit what it had built on the records it read before.
// The broker must refuse that commit (the group generation moved on), so every reader of the outputs
// sees each input offset's effects once, and B's checkpoint and group offset stay the last word.
// Real broker, real `concord run` processes; one input partition, so A and B contend for the same one.

const s = kafkaSettings('concord-zombie-test');
const root = fileURLToPath(new URL('../..', import.meta.url));
const CLICKS = 3_000, SEED = 5, DATE = '2026-11-23';

// The clicks pipelines of the seed: page_views_per_minute runs in the worker (keyed by the partition
// key); unique_visitors_5m spans partitions, so its partials go through the merge stage.
const ws = tempWorkspace('concord-zombie-');
afterAll(() => ws.cleanup());
const definitionsJson = JSON.parse(readFileSync(seedDefinitionsPath, 'utf8')) as { pipelines: Record<string, unknown> };
delete definitionsJson.pipelines.fraud_multi_country;
const definitionsFile = ws.file('definitions.json', [JSON.stringify(definitionsJson)]);
const registry = parseDefinitions(definitionsJson, definitionsFile);
// A 6 s session (the broker's minimum) keeps the takeover short; small fetches make many transactions.
const workerEnv = { CONCORD_DEFINITIONS: definitionsFile, CONCORD_KAFKA_SESSION_TIMEOUT_MS: '6000', CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '16384' };

function startWorker(prefix: string, workerId: string, extra: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', 'all', '--worker-id', workerId, ...extra], {
    cwd: root, env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, ...workerEnv, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const out = { stderr: '' };
  child.stderr.on('data', (d) => { out.stderr += String(d); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, exited };
}

const day = generateDay({ seed: SEED, date: DATE, clicks: CLICKS, transactions: 0, fraudRings: 0, maxOutOfOrderness: 20_000, lateFraction: 0.02, invalidFraction: 0.01 });

/**
 * The same seeded clicks (2% late, 1% malformed) into a fresh one-partition input, 100 per send: a
 * fetch returns whole record batches, so small sends make many batches, hence many transactions.
 */
async function produce(prefix: string): Promise<void> {
  await ensureTopics(s, concordTopics(registry, 1, prefix));
  const schema = registry.pipelinesOf('clicks')[0]!.schema;
  const topic = topicNames(prefix).input('clicks');
  const producer = await BatchProducer.connect(s);
  for (let i = 0; i < day.clicks.length; i += 100) {
    await producer.send(day.clicks.slice(i, i + 100).map((value) => {
      let key: string | null = null;
      try { key = recordKey(schema, JSON.parse(value)); } catch { key = null; }
      return { topic, key, value };
    }));
  }
  await producer.close();
}

/** Every committed record of a topic (read_committed), to its current end. */
const readAll = (topic: string): Promise<InRecord[]> => readToEnd(s, topic);

/** What readers of the outputs see for one prefix (sources renamed, so two prefixes compare). */
async function outputs(prefix: string) {
  const names = topicNames(prefix);
  const input = names.input('clicks');
  const json = (r: InRecord) => JSON.parse(r.value) as Record<string, unknown>;
  const late = (await readAll(names.late)).map(json).filter((l) => l.source === `${input}:0`).map((l) => `${String(l.pipeline)}|${String(l.offset)}|${l.evaluated_on_arrival === true}`);
  const dead = (await readAll(names.deadLetter)).map(json).filter((d) => d.source === `${input}:0`).map((d) => String(d.offset));
  const results = (await readAll(names.results)).filter((r) => r.key !== null && /^(page_views_per_minute|unique_visitors_5m)\|/.test(r.key));
  // Partial aggregates (progress records may legitimately repeat after a restore: the merge takes the max).
  const partials = (await readAll(names.partials('clicks', groupName('concord-clicks', prefix)))).map(json).filter((m) => m.type === 'partial')
    .map((m) => [m.pipeline, m.partition, m.window_start, JSON.stringify(m.key), m.revision].join('|'));
  const final = new Map<string, unknown>();
  for (const r of results) {
    const { revision: _r, watermark: _w, ...values } = json(r);
    final.set(r.key!, values);
  }
  return { late, dead, results: results.map((r) => `${r.key}|${String(json(r).revision)}`), partials, final: new Map([...final].sort()) };
}

const duplicates = (items: string[]) => {
  const seen = new Map<string, number>();
  for (const i of items) seen.set(i, (seen.get(i) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`);
};

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, deadlineMs: number): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const processState = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];

describe('a stalled worker whose partition went to another member (zombie, KIP-447)', () => {
  const ref = `zr${randomUUID().slice(0, 6)}.`, zombie = `zz${randomUUID().slice(0, 6)}.`;
  beforeAll(async () => {
    await produce(ref);
    await produce(zombie);
  }, 120_000);

  it('cannot commit once it continues: every input offset is seen once, and B\'s checkpoint and offset are the last word', async () => {
    // Reference: one worker, uninterrupted, over the same records.
    const r = startWorker(ref, 'r', ['--stop-when-idle', '2s']);
    expect((await r.exited).code, r.out.stderr).toBe(0);

    const names = topicNames(zombie);
    const input = names.input('clicks');
    const group = `${zombie}concord-clicks`;
    const end = (await endOffsets(s, input)).get(0)!;
    // A stops itself just before its 4th transaction (the 1st is written on assignment, then one per batch).
    const a = startWorker(zombie, 'a', [], { CONCORD_TEST_STOP_BEFORE_TXN: '4' });
    await waitFor('A stopped itself (SIGSTOP)', () => processState(a.child.pid!) === 'T', 60_000).catch((error: unknown) => {
      a.child.kill('SIGKILL');
      throw new Error(`${String(error)}; A said: ${a.out.stderr}`);
    });
    const staleOffset = (await committedOffsets(s, group, input)).get(0) ?? 0;
    expect(staleOffset).toBeLessThan(end);

    // B joins; once A's session expires the group gives B the partition, and B reads everything and drains.
    const b = startWorker(zombie, 'b', ['--stop-when-idle', '2s']);
    const rb = await b.exited;
    expect(rb.code, b.out.stderr).toBe(0);
    expect(b.out.stderr).toMatch(/assigned \S+ partitions \[0\]/);
    expect.soft(b.out.stderr, "no TimeoutNegativeWarning (Node 24)").not.toMatch(/TimeoutNegativeWarning/);
    const bOffset = (await committedOffsets(s, group, input)).get(0);
    expect(bOffset).toBe(end);
    const checkpointsOf = async () => new Map([...(await readLatestByKey(s, names.checkpoints))].filter(([k]) => k.startsWith(`${group}|`)).sort());
    const bCheckpoints = await checkpointsOf();
    expect(bCheckpoints.size).toBeGreaterThan(0);

    // A continues where it stopped: about to commit the batch it built under the old generation.
    process.kill(a.child.pid!, 'SIGCONT');
    const refused = /transaction refused and aborted: .*(ILLEGAL_GENERATION|UNKNOWN_MEMBER_ID|FENCED_INSTANCE_ID)/;
    await waitFor('A reports its refused commit', () => refused.test(a.out.stderr), 30_000).catch(() => undefined);
    // Whatever A does next (it rejoins and may restore B's checkpoint), it gets time to do it, then stops.
    await new Promise((r2) => setTimeout(r2, 3_000));
    a.child.kill('SIGTERM');
    await a.exited;

    expect.soft(a.out.stderr, 'A\'s commit was refused by the broker').toMatch(refused);
    const want = await outputs(ref);
    const got = await outputs(zombie);
    // Every input offset once: no late event, dead letter, result revision or partial twice ...
    expect.soft(duplicates(got.late), 'late events seen twice').toEqual([]);
    expect.soft(duplicates(got.dead), 'dead letters seen twice').toEqual([]);
    expect.soft(duplicates(got.results), 'result revisions seen twice').toEqual([]);
    expect.soft(duplicates(got.partials), 'partials seen twice').toEqual([]);
    // ... and none missing: the same late set, dead letters and final results as the uninterrupted run.
    expect.soft(new Set(got.late)).toEqual(new Set(want.late));
    expect.soft(new Set(got.dead)).toEqual(new Set(want.dead));
    expect.soft(got.final).toEqual(want.final);
    // B's group offset and checkpoints are the last word (A's stale ones would go back to `staleOffset`).
    expect.soft((await committedOffsets(s, group, input)).get(0)).toBe(end);
    expect.soft(await checkpointsOf()).toEqual(bCheckpoints);
  }, 240_000);
});
