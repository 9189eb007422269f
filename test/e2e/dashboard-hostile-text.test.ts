import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { launchChromium, requireChromium, watchedPage, serveAddress } from '../fixtures/dashboard-browser.ts';

// The dashboard as a hostile user fills it: pipeline, schema and aggregate names and event values
// (keys, ids, a rule's distinct values) that are HTML, script, `javascript:` links and right-to-left
// overrides, read from the API and pushed through the live stream (SSE). Nothing of it may run: every
// payload sets `window.__pwned`, and the page must show each as text (a real browser, Debian's chromium).
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-dashboard-hostile-');
const pwn = (tag: string) => `window.__pwned="${tag}"`;
const S = `clicks<b onmouseover=${pwn('s')}>`;
const P = `views</script><script>${pwn('p')}</script>`;
const R = `rule"><svg onload=${pwn('r')}>`;
const URLS = [`"/><img src=x onerror=${pwn('k1')}>`, `</script><script>${pwn('k2')}</script>`, `javascript:${pwn('k3')}`, '\u202etxt.exe', `{{constructor.constructor("${pwn('k4')}")()}}`];
const USERS = [`<img src=x onerror=${pwn('u')}>`, 'u2'];
const defs = join(ws.dir, 'hostile.definitions.json');
const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let base = '';

function events(day: string, idTag: string): string {
  const lines: string[] = [];
  let n = 0;
  for (let m = 0; m < 3; m++) {
    for (const url of URLS) {
      for (const user of USERS) lines.push(JSON.stringify({ id: `${idTag}${n++}<img src=x onerror=${pwn('id')}>`, ts: `${day}T10:0${m}:${String(n % 60).padStart(2, '0')}Z`, user, url }));
    }
  }
  return lines.sort((a, b) => (JSON.parse(a).ts < JSON.parse(b).ts ? -1 : 1)).join('\n') + '\n';
}

function stream(file: string): void {
  for (const p of [P, R]) {
    const r = concord(['stream', '--definitions', defs, '--pipeline', p, '--input', file, '--output', join(ws.dir, 'out.jsonl'), '--store', store]);
    expect(r.code, r.stderr).toBe(0);
  }
}

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  ws.cleanup();
});

describe('the dashboard with names and values that are HTML or script', () => {
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    requireChromium();
    writeFileSync(defs, JSON.stringify({
      schemas: { [S]: { time: 'ts', id: 'id', key: 'user', fields: { id: 'string', ts: 'timestamp', user: 'string', url: 'string' } } },
      pipelines: {
        [P]: { input: S, key: ['url', 'user'], window: { tumbling: '1m' }, aggregates: { [`n<img src=x onerror=${pwn('a')}>`]: 'count' }, max_out_of_orderness: 0, allowed_lateness: 0 },
        [R]: { input: S, key: 'user', rule: { within: '5m', distinct: 'url', more_than: 1, output: `urls<script>${pwn('o')}</script>` }, max_out_of_orderness: 0, allowed_lateness: 0 },
      },
    }));
    const day1 = join(ws.dir, 'day1.jsonl');
    writeFileSync(day1, events('2026-11-23', 'a'));
    stream(day1);
    const archived = concord(['archive', '--definitions', defs, '--schema', S, '--input', day1, '--dir', join(ws.dir, 'archive')]);
    expect(archived.code, archived.stderr).toBe(0);
    const rec = concord(['reconcile', '--definitions', defs, '--date', '2026-11-23', '--archive', join(ws.dir, 'archive'), '--store', store, '--report-dir', join(ws.dir, 'reports')]);
    expect(rec.code, rec.stderr).toBe(0);
    const script = `import { serveCommand } from './cli/commands/serve.ts'; import { parseCommandArgs } from './cli/args.ts';
      const v = parseCommandArgs(serveCommand, ${JSON.stringify(['--store', store, '--definitions', defs, '--port', '0', '--log-level', 'warn', '--poll', '200ms'])}); process.exitCode = await serveCommand.run(v);`;
    server = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    base = await serveAddress(server!);
    browser = await launchChromium();
    page = await watchedPage(browser, problems);
    page.on('request', (r) => { if (!r.url().startsWith(base)) problems.push(`a request left the server: ${r.url()}`); });
  }, 240_000);

  /** What ran or was made of the payloads: the marker, and elements the page never makes itself. */
  const damage = () => page.evaluate(() => ({
    pwned: (globalThis as any).__pwned ?? null,
    elements: (globalThis as any).document.querySelectorAll('main img, main svg:not(.u-legend svg), main script, main iframe, main object, a[href^="javascript:"], [onerror], [onload], [onmouseover]').length,
  }));

  it('live view, day view and the live stream show every name and value as text; nothing runs', async () => {
    await page.goto(`${base}/#/live`);
    const card = page.locator('[data-testid="chart-card"]', { hasText: 'views</script>' });
    await card.locator('[data-testid="top-row"]').first().waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="alert-row"]').first().waitFor({ timeout: 20_000 });
    expect(await damage()).toEqual({ pwned: null, elements: 0 });
    // The names and values are on the page as the text they are.
    const text = await page.locator('main').innerText();
    for (const t of [P, R, `</script><script>${pwn('k2')}</script>`, `javascript:${pwn('k3')}`]) expect(text).toContain(t);
    expect(text).toContain('"\\u202etxt.exe"');
    expect(text).not.toContain('\u202e');

    await page.goto(`${base}/#/day/2026-11-23`);
    await page.locator('[data-testid="empty-state"], [data-metric]').first().waitFor({ timeout: 20_000 });
    expect(await damage()).toEqual({ pwned: null, elements: 0 });

    // The next day streamed while the live view is open: its rows and alerts arrive by the live stream.
    await page.goto(`${base}/#/live`);
    await card.locator('[data-testid="top-row"]').first().waitFor({ timeout: 20_000 });
    const before = Number(await page.evaluate(() => (globalThis as any).document.body.dataset.liveEvents ?? 0));
    const day2 = join(ws.dir, 'day2.jsonl');
    writeFileSync(day2, events('2026-11-24', 'b'));
    stream(day2);
    await page.waitForFunction((n) => Number((globalThis as any).document.body.dataset.liveEvents ?? 0) > n + 5, before, { timeout: 30_000 });
    await page.locator('[data-testid="alert-row"]', { hasText: '2026-11-24' }).first().waitFor({ timeout: 20_000 });
    expect(await damage()).toEqual({ pwned: null, elements: 0 });
    expect(problems).toEqual([]);
  }, 120_000);
});
