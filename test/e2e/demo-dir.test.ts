import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `concord demo --dir DIR` recreates DIR on each run. A DIR the user named that holds their own files
// (`--dir .` in a project, a folder with notes) lost them all: the demo removed DIR whole.
const ws = tempWorkspace('concord-demo-dir-');
afterAll(() => ws.cleanup());
const small = ['--clicks', '300', '--transactions', '30'];

describe('concord demo --dir', () => {
  it('refuses a directory holding files the demo did not write, and leaves them as they were', () => {
    const dir = join(ws.dir, 'mine');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'precious\n');
    const r = concord(['demo', '--dir', dir, ...small]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`concord demo: --dir ${dir} holds notes.txt, src that the demo did not write`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('precious\n');
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'src']);
  });

  it('recreates a directory of an earlier demo run (its own outputs only)', () => {
    const dir = join(ws.dir, 'demo');
    expect(concord(['demo', '--dir', dir, ...small]).code).toBe(0);
    writeFileSync(join(dir, 'realtime', 'stale.jsonl'), 'from the first run\n');
    const again = concord(['demo', '--dir', dir, ...small]);
    expect(again.code).toBe(0);
    expect(existsSync(join(dir, 'realtime', 'stale.jsonl'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['archive', 'input', 'realtime', 'replay', 'reports', 'store.duckdb']);
  });
});
