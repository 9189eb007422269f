import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A file the user may not read, or a directory they may not write in, is refused before any work with
// exit 2 and one line naming the flag: `stream` and `produce` ended with "failed: Error: EACCES" and
// exit 1 (a bug's status), `archive` with exit 1. Root reads and writes anything: as root the CLI runs
// as user nobody (setpriv), otherwise as the user the tests run as.
const ws = tempWorkspace('concord-cli-permissions-');
afterAll(() => { chmodSync(locked, 0o755); ws.cleanup(); });
const root = fileURLToPath(new URL('../..', import.meta.url));
chmodSync(ws.dir, 0o777); // nobody works here (mkdtemp made it 0700)

const isRoot = process.getuid?.() === 0;
const asUser = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [process.execPath];
/**
 * Whether the test can run the CLI as that user at all: setpriv present, and the checkout (a clone under a
 * private folder, as CI's may be) readable by nobody. Otherwise the cases cannot say anything and are skipped.
 */
const userRunsCli = spawnSync(asUser[0]!, [...asUser.slice(1), '-e', "require('fs').accessSync('cli/main.ts', require('fs').constants.R_OK)"], { cwd: root }).status === 0;

function concordAsUser(args: string[]): { code: number; stdout: string; stderr: string } {
  const [bin, ...pre] = asUser;
  const r = spawnSync(bin!, [...pre, '--import', 'tsx', 'cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const readable = ws.file('events.jsonl', [{ event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' }]);
chmodSync(readable, 0o644);
const unreadable = ws.file('secret.jsonl', [{ event_id: 'e1', ts: 59_999, url: '/a', visitor_id: 'v1' }]);
chmodSync(unreadable, 0o600);
if (!isRoot) chmodSync(unreadable, 0o000);
const locked = join(ws.dir, 'locked');
mkdirSync(locked);
chmodSync(locked, isRoot ? 0o755 : 0o555); // root's 0755 directory: nobody may not write there

/** A user error: exit 2, one line `concord <cmd>: <message>`, no stack trace. */
function refused(r: { code: number; stderr: string }, cmd: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.split('\n')).toHaveLength(2);
  expect(r.stderr).toMatch(new RegExp(`^concord ${cmd}: ${message.source}\\n$`));
}

describe.skipIf(!userRunsCli)('paths the user may not read or write in', () => {
  it('an unreadable input: exit 2 naming the flag, for every command that reads one', () => {
    const because = (flag: string) => new RegExp(`${flag} ${unreadable}: this user may not read it \\(EACCES\\): change the permissions or name another path`);
    refused(concordAsUser(['stream', '--pipeline', 'page_views_per_minute', '--input', unreadable, '--output', join(ws.dir, 'o.jsonl')]), 'stream', because('--input'));
    refused(concordAsUser(['archive', '--schema', 'clicks', '--input', unreadable, '--dir', join(ws.dir, 'archive')]), 'archive', because('--input'));
    refused(concordAsUser(['produce', '--schema', 'clicks', '--input', unreadable]), 'produce', because('--input'));
    expect(existsSync(join(ws.dir, 'archive'))).toBe(false);
  });

  it('an output in a directory the user may not write in: exit 2 before the input is read, nothing left there', () => {
    const out = join(locked, 'sub', 'o.jsonl');
    const r = concordAsUser(['stream', '--pipeline', 'page_views_per_minute', '--input', readable, '--output', out]);
    refused(r, 'stream', new RegExp(`--output ${out}: this user may not write in ${locked} \\(EACCES\\): change the permissions or name another path`));
    expect(readdirSync(locked)).toEqual([]);
  });

  it('a device written in place is still taken (/dev/null is no directory to write in)', () => {
    const r = concordAsUser(['stream', '--pipeline', 'page_views_per_minute', '--input', readable, '--output', '/dev/null', '--late-output', '/dev/stdout']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/page_views_per_minute: 1 events, 1 results written/);
  });
});
