import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `report --output` and `reconcile --output` wrote their file in place (writeFile): a reader of the
// previous report saw it cut to nothing and filled as the new one was written (a big day's report is
// 150 MB of JSON), and a run that failed midway left half a file where a whole one had been. They are
// now written as the other outputs are: `<name>.tmp`, renamed once complete. At a small scale: a reader
// that opened the previous file reads it whole after the run, and the path holds the new one.
const ws = tempWorkspace('concord-report-output-');
afterAll(() => ws.cleanup());
const T0 = Date.parse('2026-11-23T10:00:00Z');
const input = ws.file('clicks.jsonl', Array.from({ length: 40 }, (_, i) => ({ event_id: `e${i}`, ts: T0 + i * 20_000, url: `/p${i % 3}`, visitor_id: `v${i}` })));
const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
const archive = join(ws.dir, 'archive');
const previous = 'the previous report\n';

/** Runs `args`, whose output is `path`, while a reader holds the previous file open; returns what that reader reads. */
function runBesideReader(path: string, args: string[]): string {
  writeFileSync(path, previous);
  const reader = openSync(path, 'r');
  try {
    const r = concord(args);
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(reader, 'utf8');
  } finally {
    closeSync(reader);
  }
}

describe('report and reconcile --output are replaced whole', () => {
  it('sets up a streamed and archived day', () => {
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', input, '--output', join(ws.dir, 'out.jsonl'), '--store', store]).code).toBe(0);
    expect(concord(['archive', '--schema', 'clicks', '--input', input, '--dir', archive]).code).toBe(0);
  });

  it.each(['csv', 'json', 'md'])('report --format %s --output', (format) => {
    const path = join(ws.dir, `report.${format}`);
    expect(runBesideReader(path, ['report', '--date', '2026-11-23', '--pipeline', 'page_views_per_minute', '--format', format, '--output', path, '--store', store])).toBe(previous);
    expect(readFileSync(path, 'utf8')).toContain(format === 'md' ? '# Concord report' : '/p1');
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it('reconcile --output', () => {
    const path = join(ws.dir, 'reconcile.json');
    const args = ['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', join(ws.dir, 'out.jsonl'), '--archive', archive, '--output', path];
    expect(runBesideReader(path, args)).toBe(previous);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pipeline: 'page_views_per_minute', unexplained: 0 });
    expect(readdirSync(ws.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
