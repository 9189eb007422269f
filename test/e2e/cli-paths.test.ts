import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Paths named by flags are checked before any work, whatever the command: a directory named as a file
// to write (found only after the whole input was processed, with a stack trace and a `.tmp` left
// behind), a directory named as a file to read (EISDIR mid-read), a file named as a directory.
const ws = tempWorkspace('concord-cli-paths-');
afterAll(() => ws.cleanup());
const root = fileURLToPath(new URL('../..', import.meta.url));

const input = ws.file('events.jsonl', [
  { event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' },
  { event_id: 'e2', ts: 90_000, url: '/a', visitor_id: 'v2' },
]);
const dir = join(ws.dir, 'a-dir');
mkdirSync(dir);
const archive = join(ws.dir, 'archive');
const stream = ['stream', '--pipeline', 'page_views_per_minute', '--input', input];
/** No broker there: a command that got past its path checks would fail on Kafka instead (exit 1). */
const noBroker = { KAFKA_BROKERS: '127.0.0.1:1' };

/** A user error: exit 2, one line `concord <cmd>: <message>`, nothing on stdout, no stack trace. */
function refused(r: { code: number; stdout: string; stderr: string }, cmd: string, message: string): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toBe(`concord ${cmd}: ${message}\n`);
}

describe('every command checks the paths its flags name before doing any work', () => {
  it('a directory named as a file to write: exit 2 naming the flag, and no .tmp left behind', () => {
    refused(concord([...stream, '--output', dir]), 'stream', `--output ${dir} is a directory: name a file`);
    refused(concord([...stream, '--output', ws.file('o1.jsonl'), '--late-output', dir]), 'stream', `--late-output ${dir} is a directory: name a file`);
    refused(concord([...stream, '--output', ws.file('o2.jsonl'), '--dead-letter', dir]), 'stream', `--dead-letter ${dir} is a directory: name a file`);
    refused(concord(['results', '--output', dir], noBroker), 'results', `--output ${dir} is a directory: name a file`);
    refused(concord(['results', '--output', ws.file('r.jsonl'), '--late-output', dir], noBroker), 'results', `--late-output ${dir} is a directory: name a file`);
    refused(concord(['report', '--date', '2026-12-01', '--output', dir, '--store', `duckdb:${join(ws.dir, 'none.duckdb')}`]), 'report', `--output ${dir} is a directory: name a file`);
    refused(concord(['init', '--output', dir, '--force']), 'init', `--output ${dir} is a directory: name a file`);
    refused(concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', input, '--archive', archive, '--output', dir]), 'reconcile', `--output ${dir} is a directory: name a file`);
    expect(existsSync(`${dir}.tmp`)).toBe(false);
  });

  it('replay --output a directory: refused before the replay, nothing left behind', () => {
    expect(concord(['archive', '--schema', 'clicks', '--input', input, '--dir', archive]).code).toBe(0);
    refused(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', archive, '--output', dir]), 'replay', `--output ${dir} is a directory: name a file`);
    expect(existsSync(`${dir}.tmp`)).toBe(false);
  });

  it('a file to write under a file, or the same file as an input or another output: refused', () => {
    const under = join(input, 'out.jsonl');
    refused(concord([...stream, '--output', under]), 'stream', `--output ${under}: ${input} is a file, not a directory`);
    refused(concord([...stream, '--output', input]), 'stream', `--output ${input} is also the --input file: name another file to write`);
    const out = ws.file('same.jsonl');
    refused(concord([...stream, '--output', out, '--late-output', out]), 'stream', `--output ${out} is also the --late-output file: name another file to write`);
    expect(readFileSync(input, 'utf8')).toContain('"e2"'); // the input is intact
    // Under /proc nothing can be made, and Node's recursive mkdir looped there for ever (a hang at 100% CPU).
    refused(concord([...stream, '--output', '/proc/nope/o.jsonl']), 'stream', '--output /proc/nope/o.jsonl: /proc is the kernel\'s, no file can be made there: name a path on a disk');
    refused(concord(['archive', '--schema', 'clicks', '--input', input, '--dir', '/sys/nope']), 'archive', '--dir /sys/nope: /sys is the kernel\'s, no file can be made there: name a path on a disk');
  });

  it('two input files of one name archived into one directory: the second is refused, the first day kept', () => {
    const two = join(ws.dir, 'two-days');
    const d23 = join(ws.dir, 'd23'), d21 = join(ws.dir, 'd21');
    mkdirSync(d23);
    mkdirSync(d21);
    const day = (d: string) => Date.parse(`${d}T10:00:00Z`);
    writeFileSync(join(d23, 'clicks.jsonl'), `${JSON.stringify({ event_id: 'a1', ts: day('2026-11-23'), url: '/a', visitor_id: 'v1' })}\n`);
    writeFileSync(join(d21, 'clicks.jsonl'), `${JSON.stringify({ event_id: 'b1', ts: day('2026-11-21'), url: '/b', visitor_id: 'v2' })}\n`);
    const archived = () => readdirSync(join(two, 'clicks')).filter((d) => d.startsWith('dt=')).sort();
    expect(concord(['archive', '--schema', 'clicks', '--input', join(d23, 'clicks.jsonl'), '--dir', two]).code).toBe(0);
    // The same file again is a rerun (it replaces its own files).
    expect(concord(['archive', '--schema', 'clicks', '--input', join(d23, 'clicks.jsonl'), '--dir', two]).code).toBe(0);
    refused(concord(['archive', '--schema', 'clicks', '--input', join(d21, 'clicks.jsonl'), '--dir', two]), 'archive',
      `${two} already holds source file:clicks.jsonl archived from ${join(d23, 'clicks.jsonl')}; ${join(d21, 'clicks.jsonl')} has the same file name and would replace it ` +
      '(a file\'s events are named by its file name): give the file a name of its own (e.g. with its date) or archive it into another directory');
    expect(archived()).toEqual(['dt=2026-11-23']);
    writeFileSync(join(d21, 'clicks-2026-11-21.jsonl'), readFileSync(join(d21, 'clicks.jsonl')));
    expect(concord(['archive', '--schema', 'clicks', '--input', join(d21, 'clicks-2026-11-21.jsonl'), '--dir', two]).code).toBe(0);
    expect(archived()).toEqual(['dt=2026-11-21', 'dt=2026-11-23']);
  });

  it('an archive that is not there, named to a command that only reads it: refused, not read as empty', () => {
    const nowhere = join(ws.dir, 'no-archive');
    const said = `--archive ${nowhere}: no such directory (looked for ${nowhere}); name the directory \`concord archive --dir\` wrote`;
    const store = ['--store', `duckdb:${join(ws.dir, 'paths.duckdb')}`];
    refused(concord(['backfill', '--date', '2026-11-23', '--archive', nowhere, ...store]), 'backfill', said);
    refused(concord(['reconcile', '--date', '2026-11-23', '--archive', nowhere, ...store]), 'reconcile', said);
    refused(concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', input, '--archive', nowhere, '--output', ws.file('rep.json')]), 'reconcile', said);
    refused(concord(['serve', '--archive', nowhere, ...store]), 'serve', said);
    refused(concord(['serve', ...store], { CONCORD_ARCHIVE_DIR: nowhere }), 'serve', said.replace('--archive', 'CONCORD_ARCHIVE_DIR'));
  });

  it('/dev/null for every output, /dev/stdout for results: accepted, written in place, the device kept', () => {
    const r = concord([...stream, '--output', '/dev/stdout', '--late-output', '/dev/null', '--dead-letter', '/dev/null']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((row) => [row.window_start, row.url, row.views])).toEqual([
      ['1970-01-01T00:00:00.000Z', '/a', 1], ['1970-01-01T00:01:00.000Z', '/a', 1],
    ]);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(concord([...stream, '--output', '/dev/null', '--late-output', '/dev/null']).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('- is standard input for a file to read and standard output for a file to write (it was a file named -)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'stream', '--pipeline', 'page_views_per_minute', '--input', '-', '--output', '-'],
      { cwd: root, encoding: 'utf8', input: readFileSync(input, 'utf8'), timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((row) => [row.window_start, row.url, row.views])).toEqual([
      ['1970-01-01T00:00:00.000Z', '/a', 1], ['1970-01-01T00:01:00.000Z', '/a', 1],
    ]);
    expect(existsSync(join(root, '-'))).toBe(false);
    refused(concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', '-', '--late', '-', '--archive', archive, '--output', ws.file('r.json')]),
      'reconcile', '--realtime and --late are both - (standard input): give one of them a file');
  });

  it('a directory named as a JSON-lines file to read: exit 2 naming the flag', () => {
    const message = `--input ${dir} is a directory: name a JSON-lines file`;
    refused(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', dir, '--output', ws.file('o3.jsonl')]), 'stream', message);
    refused(concord(['archive', '--schema', 'clicks', '--input', dir, '--dir', join(ws.dir, 'archive2')]), 'archive', message);
    refused(concord(['produce', '--schema', 'clicks', '--input', dir], noBroker), 'produce', message);
    refused(concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', dir, '--archive', archive, '--output', ws.file('rep.json')]), 'reconcile',
      `--realtime ${dir} is a directory: name a JSON-lines file`);
    expect(existsSync(join(ws.dir, 'archive2'))).toBe(false);
  });

  it('replay --input names an archive directory: a file there is the mistake', () => {
    refused(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', input, '--output', ws.file('o4.jsonl')]), 'replay',
      `--input ${input} is a file: replay reads an archive directory (written by \`concord archive --dir\`)`);
  });

  it('replay --input an archive that is not there: what was wrong and what to do, exit 2, no system error (was "(Error: ENOENT ...)")', () => {
    const nowhere = join(ws.dir, 'no-replay-archive');
    refused(concord(['replay', '--pipeline', 'page_views_per_minute', '--input', nowhere, '--output', ws.file('o5.jsonl')]), 'replay',
      `--input ${nowhere}: no such directory (looked for ${nowhere}); name the directory \`concord archive --dir\` wrote, or archive the events first`);
  });

  it('archive --dir an existing file: exit 2 naming the flag, the file untouched', () => {
    const file = ws.file('not-a-dir.txt');
    writeFileSync(file, 'keep me');
    refused(concord(['archive', '--schema', 'clicks', '--input', input, '--dir', file]), 'archive', `--dir ${file} is a file: name a directory`);
    refused(concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', input, '--archive', file, '--output', ws.file('rep2.json')]), 'reconcile',
      `--archive ${file} is a file: name the archive directory (written by \`concord archive --dir\`)`);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('a file that is not there: the message says the absolute path looked at', () => {
    refused(concord(['validate', '--definitions', 'no-such-definitions.json']), 'validate',
      `--definitions no-such-definitions.json: no such file (looked for ${join(root, 'no-such-definitions.json')})`);
    refused(concord(['validate'], { CONCORD_DEFINITIONS: 'nope/defs.json' }), 'validate', `CONCORD_DEFINITIONS nope/defs.json: no such file (looked for ${join(root, 'nope', 'defs.json')})`);
    refused(concord([...stream, '--output', ws.file('o5.jsonl'), '--config', dir]), 'stream', `--config ${dir} is a directory: name a JSON settings file`);
  });
});

describe('run through npm from another directory', () => {
  it('relative paths are the caller\'s (npm runs scripts in the package root; INIT_CWD says where the user was)', () => {
    const user = join(ws.dir, 'user');
    mkdirSync(user);
    writeFileSync(join(user, 'events.jsonl'), readFileSync(input));
    const npm = (args: string[]) => spawnSync('npm', ['--prefix', root, 'run', '-s', 'concord', '--', ...args], { cwd: user, encoding: 'utf8', timeout: 120_000 });
    const s = npm(['stream', '--pipeline', 'page_views_per_minute', '--input', 'events.jsonl', '--output', 'out.jsonl']);
    expect(s.status, s.stderr).toBe(0);
    expect(readdirSync(user).sort()).toEqual(['events.jsonl', 'out.jsonl']);
    const missing = npm(['validate', '--definitions', 'rides.json']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`concord validate: --definitions rides.json: no such file (looked for ${join(user, 'rides.json')})\n`);
  });
});

describe('archive: a write that fails midway', () => {
  it('says why in one line (exit 1) and leaves no half-written file in <dir>/.tmp', () => {
    // A file where an hour's directory goes: the first hour's Parquet file is written to .tmp, then its
    // directory cannot be made. Before, .tmp kept that file (a full disk kept its partial file there).
    const blocked = join(ws.dir, 'archive-blocked');
    mkdirSync(join(blocked, 'clicks'), { recursive: true });
    writeFileSync(join(blocked, 'clicks', 'dt=1970-01-01'), 'not a directory');
    const r = concord(['archive', '--schema', 'clicks', '--input', input, '--dir', blocked]);
    expect(r.code, r.stderr).toBe(1);
    // The staging's progress line, then the one line of the failure.
    // It names the file in the way and says what to do (before: only the raw ENOTDIR of mkdir).
    expect(r.stderr).toMatch(/^archive clicks .*\nconcord archive: \S+\/clicks\/dt=1970-01-01 is a file where the archive needs a folder: move it out of the archive directory .*then run again \(ENOTDIR: not a directory, mkdir .*hour=00'\)\n$/);
    expect(r.stderr.match(/concord archive:/g)).toHaveLength(1);
    expect(existsSync(join(blocked, '.tmp'))).toBe(false);
  });
});
