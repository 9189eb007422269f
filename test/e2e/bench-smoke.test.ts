import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Benchmarks are never timed tests: this only checks that the bench script runs end to end on tiny
// data and reports every figure with sane values.
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace();
afterAll(() => ws.cleanup());

describe('npm run bench -- --tiny', () => {
  it('runs every in-process benchmark and writes the figures', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--tiny', '--out', ws.dir], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(join(ws.dir, 'tiny.md'), 'utf8');
    for (const section of ['stream, decoded events', 'stream from JSON bytes', 'replay one day from Parquet', 'replay: HLL', 'reconcile', 'Unique-visitor sketch', 'Emit delay', 'Growth']) {
      expect(md).toContain(section);
    }
    const json = JSON.parse(readFileSync(join(ws.dir, 'tiny.json'), 'utf8')) as { figures: { metric: string; events: number; seconds: number; peerSeconds?: number }[] };
    expect(json.figures.length).toBe(6);
    for (const f of json.figures) {
      expect(f.events, f.metric).toBeGreaterThan(0);
      expect(f.seconds, f.metric).toBeGreaterThan(0);
      if (f.peerSeconds !== undefined) expect(f.peerSeconds, f.metric).toBeGreaterThan(0);
    }
  }, 150_000);
});
