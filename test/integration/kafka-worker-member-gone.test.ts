import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaSettings, readLatestByKey, readToEnd } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';

// A worker killed while it held partitions keeps them in the group until its session times out. A
// bounded worker of the same group (`run --stop-when-idle`), done with its own partitions, drained
// them and exited 0 at once: the killed worker's partitions were never drained (their open windows
// never fired; measured: views + late 44,994 of 45,000). It now waits for the group to hand them over,
// restores and drains them too.
const root = fileURLToPath(new URL('../..', import.meta.url));
const SESSION_MS = '6000'; // the broker's minimum: the dead member is gone soonest
const COUNT = 4_000;
const PIPELINE = 'page_views_per_minute';

describe('concord run --stop-when-idle, another worker of its group killed', () => {
  const prefix = `wg${randomUUID().slice(0, 6)}.`;
  const names = topicNames(prefix);
  const s = kafkaSettings('concord-test-worker-gone');
  afterAll(async () => {
    for (const t of [names.input('clicks'), names.results, names.late, names.deadLetter, names.checkpoints, names.watermarks]) await deleteTopic(t).catch(() => undefined);
  });

  it('drains the partitions the killed worker held, once the group hands them over: views + late = input', async () => {
    const env = { CONCORD_TOPIC_PREFIX: prefix, CONCORD_KAFKA_SESSION_TIMEOUT_MS: SESSION_MS };
    const produced = concord(['produce', '--schema', 'clicks', '--count', String(COUNT), '--seed', '5', '--date', '2026-11-23', '--partitions', '6', '--invalid-fraction', '0'], env);
    expect(produced.code, produced.stderr).toBe(0);
    const start = (args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', '--pipeline', PIPELINE, ...args], {
        cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      child.stderr.on('data', (d) => { log += String(d); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, exited, log: () => log };
    };
    // Worker A runs unbounded (it never drains); worker B, bounded, joins its group: they split the partitions.
    const a = start(['--worker-id', 'a']);
    let b: ReturnType<typeof start> | undefined;
    try {
      const until = async (what: string, ok: () => boolean) => {
        for (let i = 0; i < 800 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        if (!ok()) throw new Error(`timed out waiting for ${what}; A said: ${a.log()}; B said: ${b?.log() ?? ''}`);
      };
      await until('worker A to take the partitions', () => a.log().includes('assigned'));
      b = start(['--worker-id', 'b', '--stop-when-idle', '1s']);
      // A logs no new assignment when it only gives partitions away: B's share says the split is done.
      await until('worker B to take a share', () => /assigned \S+ partitions \[\d/.test(b!.log()));
      a.child.kill('SIGKILL');
      await a.exited;
      expect(await b.exited, b.log()).toBe(0);
    } finally {
      a.child.kill('SIGKILL');
      b?.child.kill('SIGKILL');
    }
    let views = 0, late = 0;
    for (const v of (await readLatestByKey(s, names.results)).values()) {
      const row = JSON.parse(v) as { pipeline: string; views: number };
      if (row.pipeline === PIPELINE) views += Number(row.views);
    }
    for (const r of await readToEnd(s, names.late)) if ((JSON.parse(r.value) as { pipeline: string }).pipeline === PIPELINE) late++;
    expect(views + late).toBe(COUNT);
    // It waited for the killed worker's partitions, and was handed them.
    expect(b!.log()).toMatch(/partitions \[[\d, ]+\] are another member's/);
    expect(b!.log()).toMatch(/assigned \S+ partitions \[0, 1, 2, 3, 4, 5\]/);
  }, 60_000);
});
