import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaArchiver } from '../../batch/kafka-archiver.ts';
import { clicksSchema, seedRegistry } from '../../examples/seed.ts';
import { kafkaSettings } from '../../stream/kafka/client.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// An archiver killed while it held partitions keeps them in the group until its session times out. A
// bounded archiver (`--stop-when-idle`) of the same group, done with its own partitions, exited 0 at
// once and left the dead member's unarchived (seen: a restart after a crash loop archived 21,929 of
// 45,000 records and said nothing). It now waits for the group to hand them over, and archives them.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-archiver-gone-');
const SESSION_MS = '6000'; // the broker's minimum: the dead member is gone soonest
const COUNT = 3_000;

describe('concord archive --from-kafka --stop-when-idle, another member of its group killed', () => {
  const prefix = `ag${randomUUID().slice(0, 6)}.`;
  const saved = { prefix: process.env.CONCORD_TOPIC_PREFIX, session: process.env.CONCORD_KAFKA_SESSION_TIMEOUT_MS };
  afterAll(async () => {
    process.env.CONCORD_TOPIC_PREFIX = saved.prefix;
    process.env.CONCORD_KAFKA_SESSION_TIMEOUT_MS = saved.session;
    await deleteTopic(`${prefix}clicks`).catch(() => undefined);
    ws.cleanup();
  });

  it('archives the partitions the killed member held, once the group hands them over', async () => {
    const env = { CONCORD_TOPIC_PREFIX: prefix, CONCORD_KAFKA_SESSION_TIMEOUT_MS: SESSION_MS };
    const produced = concord(['produce', '--schema', 'clicks', '--count', String(COUNT), '--seed', '3', '--date', '2026-11-23', '--partitions', '6'], env);
    expect(produced.code, produced.stderr).toBe(0);
    const dir = join(ws.dir, 'archive');

    // Member A buffers (its flushes are a minute and 50,000 records away), so it archives nothing.
    const a = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'archive', '--from-kafka', '--schema', 'clicks', '--dir', dir], {
      cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let aLog = '';
    a.stderr.on('data', (d) => { aLog += String(d); });
    const aExited = new Promise((resolve) => a.on('exit', resolve));
    try {
      const until = async (what: string, ok: () => boolean) => {
        for (let i = 0; i < 1200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        if (!ok()) throw new Error(`timed out waiting for ${what}; member A said: ${aLog}`);
      };
      await until('member A to take the partitions', () => aLog.includes('archiving'));

      // Member B joins the group: the partitions are split between A and B.
      Object.assign(process.env, env);
      const bLog: string[] = [];
      const b = new KafkaArchiver({
        schema: clicksSchema, sketched: seedRegistry().sketchedFields('clicks'), dir, settings: kafkaSettings('concord-test-archiver-gone'),
        stopWhenIdleMs: 500, flushIntervalMs: 200, log: (l) => bLog.push(l),
      });
      const running = b.run();
      await until('member B to take a share', () => bLog.some((l) => /^archiving .* partitions \[\d/.test(l)) && (aLog.match(/archiving/g) ?? []).length >= 2);
      a.kill('SIGKILL');
      await aExited;

      const stats = await running;
      expect(stats.events + stats.rejected).toBe(COUNT);
      const markers = readdirSync(join(dir, 'clicks', '_committed'));
      expect(new Set(markers.map((m) => /_(\d+)-\d+-\d+$/.exec(m)?.[1])).size).toBe(6);
    } finally {
      a.kill('SIGKILL');
    }
  }, 90_000);
});
