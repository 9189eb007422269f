import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { clicksSchema } from '../../examples/seed.ts';
import { ensureTopics, kafkaSettings, readLatestByKey, TransactionalProducer, type OutRecord } from '../../stream/kafka/client.ts';
import { concordTopics, topicNames } from '../../stream/kafka/topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An input topic written by a transactional producer (Kafka Streams or Flink exactly-once upstream):
// each commit marker takes an offset, so the topic ends one offset past its last record. A bounded
// archiver or worker run (`--stop-when-idle`) must still see it read to its end, stop, and count every
// event once; a check on records alone never passed (the worker rejoined every stall period instead).
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-txn-input-');
afterAll(() => ws.cleanup());
const s = kafkaSettings('concord-test-txn-input');
const T0 = Date.parse('2026-11-23T10:00:00Z');
const PARTITIONS = 2;
const TRANSACTIONS = 3;
const PER_TRANSACTION = 100;
const EVENTS = TRANSACTIONS * PER_TRANSACTION;

/** Runs the CLI; killed after `limitMs` (exit code null) so a run that never ends fails instead of hanging. */
function cli(args: string[], prefix: string, limitMs: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, CONCORD_TOPIC_PREFIX: prefix, CONCORD_PARTITIONS: String(PARTITIONS) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); }));
}

const click = (n: number, topic: string): OutRecord => ({
  // Keyed by url (the schema's key), as the input topics are: one url, one partition.
  topic, key: `/p${n % 5}`, partition: (n % 5) % PARTITIONS,
  value: JSON.stringify({ event_id: `c${n}`, ts: T0 + n * 1_000, url: `/p${n % 5}`, visitor_id: `v${n % 7}` }),
});

/** A fresh set of topics whose input holds EVENTS clicks committed in transactions (and aborted ones after, if asked). */
async function transactionalInput(abortLast: boolean): Promise<string> {
  const prefix = `x${randomUUID().slice(0, 6)}.`;
  await ensureTopics(s, concordTopics([clicksSchema], PARTITIONS, prefix));
  const topic = topicNames(prefix).input('clicks');
  const upstream = await TransactionalProducer.connect(s, `upstream-${prefix}`);
  try {
    for (let t = 0; t < TRANSACTIONS; t++) {
      await upstream.commit(Array.from({ length: PER_TRANSACTION }, (_, i) => click(t * PER_TRANSACTION + i, topic)), null);
    }
    if (abortLast) {
      const tx = await upstream.begin();
      await tx.send(Array.from({ length: 10 }, (_, i) => click(EVENTS + i, topic)));
      await tx.abort();
    }
  } finally {
    await upstream.close();
  }
  return prefix;
}

const cases = [['committed transactions', false], ['committed transactions, then an aborted one', true]] as const;

describe('an input topic written in transactions', () => {
  it.each(cases)(
    '%s: the archiver stops when idle, every committed event archived once',
    async (_, abortLast) => {
      const prefix = await transactionalInput(abortLast);
      const archive = await cli(['archive', '--from-kafka', '--schema', 'clicks', '--dir', join(ws.dir, prefix), '--stop-when-idle', '2s'], prefix, 60_000);
      expect(archive.code, archive.stderr).toBe(0);
      expect(archive.stderr).toMatch(new RegExp(`archived ${EVENTS} clicks events from Kafka and 0 rejected records .* of ${EVENTS} records read`));
    },
    150_000,
  );

  it.each(cases)(
    '%s: the stream worker stops when idle, every committed event counted once',
    async (_, abortLast) => {
      const prefix = await transactionalInput(abortLast);
      // Well under the stall period (CONCORD_KAFKA_STALL_MS): a worker that never sees its end rejoins instead of stopping.
      const run = await cli(['run', '--pipeline', 'page_views_per_minute', '--stop-when-idle', '2s'], prefix, 60_000);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/rejoining with a fresh consumer/);
      const rows = [...(await readLatestByKey(s, topicNames(prefix).results)).values()].map((v) => JSON.parse(v) as { views: number });
      expect(rows.reduce((sum, r) => sum + r.views, 0)).toBe(EVENTS);
    },
    150_000,
  );
});
