import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { QueryError } from '../../batch/duckdb.ts';
import { callerDirectory } from '../../cli/caller-directory.ts';
import { reportFailure } from '../../cli/failure.ts';
import { Progress } from '../../cli/progress.ts';
import { ArchiveError, ConcordError, ConfigError } from '../../pipeline/errors.ts';

const user = mkdtempSync(join(tmpdir(), 'concord-caller-'));
afterAll(() => rmSync(user, { recursive: true, force: true }));

describe('callerDirectory: where the user ran npm from', () => {
  const root = '/work/pkg';
  const npm = { INIT_CWD: user, npm_lifecycle_event: 'concord', npm_package_json: `${root}/package.json` };

  it('npm ran our CLI script in the package root from elsewhere: the caller\'s directory', () => {
    expect(callerDirectory(npm, root)).toBe(user);
    expect(callerDirectory({ ...npm, npm_lifecycle_event: 'demo' }, root)).toBe(user);
  });

  it('otherwise nothing changes: run there, not by npm, by another script (npm test\'s children), or elsewhere', () => {
    expect(callerDirectory({ ...npm, INIT_CWD: root }, root)).toBeUndefined();
    expect(callerDirectory({}, root)).toBeUndefined();
    expect(callerDirectory({ ...npm, npm_lifecycle_event: 'test' }, root)).toBeUndefined();
    expect(callerDirectory(npm, '/somewhere/else')).toBeUndefined();
    expect(callerDirectory({ ...npm, INIT_CWD: join(user, 'gone') }, root)).toBeUndefined();
  });
});

describe('reportFailure: one line for the user\'s and a dependency\'s failures, the stack for bugs', () => {
  const told = (error: unknown) => {
    let text = '';
    const code = reportFailure('x', error, (t) => { text += t; });
    return { code, text };
  };

  it('the user\'s: the message, exit 2', () => {
    expect(told(new ConfigError('--output d is a directory: name a file'))).toEqual({ code: 2, text: 'concord x: --output d is a directory: name a file\n' });
  });

  it('a dependency\'s: the message and its innermost cause once, no stack, exit 1', () => {
    const disk = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(told(new ArchiveError('archiving input into /a failed', { cause: new Error('wrapped', { cause: disk }) })))
      .toEqual({ code: 1, text: 'concord x: archiving input into /a failed (ENOSPC: no space left on device, write)\n' });
    // A message that says its cause already does not repeat it.
    const said = new ConcordError('cannot reach the broker (connect ECONNREFUSED 1.2.3.4:1)', { domain: 'external', cause: new Error('connect ECONNREFUSED 1.2.3.4:1') });
    expect(told(said).text).toBe('concord x: cannot reach the broker (connect ECONNREFUSED 1.2.3.4:1)\n');
  });

  it('DuckDB refused a file by the operating system (disk full, read-only): one line saying what to do, exit 1; a query it rejects stays a bug', () => {
    // Before: `archive --input` into a full disk printed a stack trace and the COPY statement, as for a bug.
    const full = new QueryError(`COPY (SELECT 1) TO '/a/x.parquet'`, new Error('IO Error: Could not write file "/a/x.parquet": No space left on device'));
    expect(told(full)).toEqual({ code: 1, text: 'concord x: DuckDB could not read or write a file: IO Error: Could not write file "/a/x.parquet": No space left on device: free space or fix the permissions there, then run again\n' });
    expect(told(new QueryError('SELEC 1', new Error('Parser Error: syntax error'))).text).toMatch(/^concord x failed: QueryError: DuckDB query failed: Parser Error: syntax error\n {2}in: SELEC 1\n/);
  });

  it('a bug: the stack, and each cause once', () => {
    const same = new Error('root');
    const r = told(new Error('boom', { cause: new Error('root', { cause: same }) }));
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^concord x failed: Error: boom\n {4}at /);
    expect(r.text.match(/caused by: root/g)).toHaveLength(1);
  });
});

describe('Progress (not a terminal: plain lines)', () => {
  afterEach(() => { vi.restoreAllMocks(); });
  const lines = () => {
    const out: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((t: string | Uint8Array) => { out.push(String(t)); return true; });
    return out;
  };

  it('the final line is said once, with its unit, also when the last update drew the same numbers', () => {
    const out = lines();
    vi.spyOn(Date, 'now').mockReturnValue(1_000);
    const p = new Progress('archive clicks', { unit: 'events' });
    vi.spyOn(Date, 'now').mockReturnValue(4_000);
    p.update(10);
    p.done(10);
    expect(out).toEqual(['archive clicks 10 events (3/s)\n']);
  });

  it('a run shorter than one interval prints only its final line', () => {
    const out = lines();
    const p = new Progress('stream p', { unit: 'lines read' });
    p.update(5, '0 rejected, 0 late');
    p.done(6, '1 rejected, 0 late');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^stream p 6 lines read( \(.*\/s\))?, 1 rejected, 0 late\n$/);
  });
});
