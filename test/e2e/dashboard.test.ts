import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDay, writeJsonl } from '../../generate/realistic-day.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The dashboard end to end, in a real browser (Debian's chromium, driven by playwright-core): the demo
// fills a store, `concord serve` serves it, the live view's charts show what the API returns, events
// streamed into the store reach the page without a reload, and the day view shows the reconcile
// report's differences and causes. Screenshots of both views go to docs/images/ with
// CONCORD_SCREENSHOTS=1 (CONCORD_E2E_CLICKS sets the demo's size, default 20000).
const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-dashboard-');
const DATE = '2026-11-23';
const P = 'page_views_per_minute', U = 'unique_visitors_5m', F = 'fraud_multi_country';
const demo = join(ws.dir, 'demo');
const storeUrl = `duckdb:${join(demo, 'store.duckdb')}`;
const shots = process.env.CONCORD_SCREENSHOTS === '1' ? join(root, 'docs', 'images') : join(ws.dir, 'shots');

let serve: ChildProcess | undefined;
let browser: Browser | undefined;
let base = '';

afterAll(async () => {
  await browser?.close();
  serve?.kill('SIGTERM');
  ws.cleanup();
});

/** Starts `concord serve` as its own process (the command module, as cli/main.ts runs it); resolves with its address. */
function startServe(args: string[]): Promise<string> {
  const script = `import { serveCommand } from './cli/commands/serve.ts'; import { parseCommandArgs } from './cli/args.ts';
    const v = parseCommandArgs(serveCommand, ${JSON.stringify(args)}); process.exitCode = await serveCommand.run(v);`;
  serve = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: serve!.stderr! });
    const said: string[] = [];
    lines.on('line', (l) => {
      said.push(l);
      const m = /^concord serve: (http:\/\/127\.0\.0\.1:\d+)\//.exec(l);
      if (m) resolve(m[1]!);
    });
    serve!.on('exit', (code) => reject(new Error(`concord serve exited (${code}): ${said.join('\n')}`)));
  });
}

async function api(path: string): Promise<any> {
  const r = await fetch(`${base}${path}`);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

describe('the dashboard in a browser', () => {
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (Debian's package; .ci/run installs it)`);
    const made = concord(['demo', '--dir', demo, '--clicks', process.env.CONCORD_E2E_CLICKS ?? '20000', '--transactions', '2000']);
    expect(made.code, made.stderr).toBe(0);
    base = await startServe(['--store', storeUrl, '--port', '0', '--archive', join(demo, 'archive'), '--log-level', 'warn']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !/503/.test(m.text())) problems.push(m.text()); });
    mkdirSync(shots, { recursive: true });
  }, 240_000);

  it('live view: the charts show the numbers the API returns, the watermark, late and dead-letter counts, the alerts', async () => {
    await page.goto(`${base}/#/live`);
    const card = page.locator(`[data-testid="chart-card"][data-pipeline="${P}"]`);
    await card.locator('[data-testid="top-row"]').nth(9).waitFor();
    const table = card.locator('[data-testid="top-table"]');
    const range = { from: await table.getAttribute('data-from'), to: await table.getAttribute('data-to') };
    const top = await api(`/api/pipelines/${P}/top?by=views&n=10&from=${range.from}&to=${range.to}`);
    const shown = await card.locator('[data-testid="top-row"]').evaluateAll((rows) => rows.map((r) => ({ key: JSON.parse((r as any).dataset.key!), total: Number((r as any).dataset.total) })));
    expect(shown).toEqual(top.keys.map((k: any) => ({ key: k.key, total: k.total })));
    // The chart: 10 series, points = the windows of those keys in the range, drawn on a canvas.
    const windows = await api(`/api/pipelines/${P}/windows?limit=5000&from=${range.from}&to=${range.to}&${top.keys.map((k: any) => `key=${encodeURIComponent(JSON.stringify(k.key))}`).join('&')}`);
    const chart = card.locator('[data-testid="chart"]');
    expect(await chart.getAttribute('data-series')).toBe('10');
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(windows.rows.length);
    expect(await inked(page, `[data-pipeline="${P}"] [data-testid="chart"] canvas`)).toBeGreaterThan(500);
    // The global series: its newest window's value.
    const global = page.locator(`[data-testid="chart-card"][data-pipeline="${U}"]`);
    await global.locator('[data-testid="top-row"]').waitFor();
    const gTable = global.locator('[data-testid="top-table"]');
    const gRows = await api(`/api/pipelines/${U}/windows?limit=5000&from=${await gTable.getAttribute('data-from')}&to=${await gTable.getAttribute('data-to')}`);
    expect(Number(await global.locator('[data-testid="top-row"]').getAttribute('data-latest'))).toBe(gRows.rows.at(-1).values.visitors);
    expect(await global.locator('[data-testid="chart"]').getAttribute('data-points')).toBe(String(gRows.rows.length));
    expect(await inked(page, `[data-pipeline="${U}"] [data-testid="chart"] canvas`)).toBeGreaterThan(200);
    // Watermarks, lag, late and dead-letter counts.
    const status = await api('/api/status');
    const dead = await api('/api/dead-letters');
    for (const s of status.pipelines) {
      const stat = page.locator(`[data-testid="stat"][data-pipeline="${s.pipeline}"]`);
      expect(await stat.locator('[data-field="watermark"]').getAttribute('data-value')).toBe(s.watermark);
      expect(Number(await stat.locator('[data-field="late"]').getAttribute('data-value'))).toBe(s.late_events);
      expect(await stat.locator('[data-field="lag"]').textContent()).toMatch(/behind/);
      expect(Number(await stat.locator('[data-field="dead-letters"]').getAttribute('data-value'))).toBe(dead.pipelines.find((x: any) => x.pipeline === s.pipeline).count);
    }
    const alerts = await api(`/api/pipelines/${F}/alerts?order=desc&limit=50`);
    expect(await page.locator(`[data-pipeline="${F}"] [data-testid="alert-row"]`).evaluateAll((rows) => rows.map((r) => (r as any).dataset.id))).toEqual(alerts.rows.map((a: any) => a.id));
    await page.screenshot({ path: join(shots, 'dashboard-live.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it('live view: events streamed into the store reach the page without a reload', async () => {
    await page.evaluate(() => { (globalThis as any).marker = 42; });
    const table = page.locator(`[data-testid="chart-card"][data-pipeline="${P}"] [data-testid="top-table"]`);
    const before = await table.getAttribute('data-to');
    const next = generateDay({ seed: 11, date: '2026-11-24', clicks: 1_500, transactions: 0 });
    const input = join(ws.dir, 'more-clicks.jsonl');
    await writeJsonl(input, next.clicks);
    // DuckDB lets one process write: the stream waits for the server's short reads to let go of the file.
    let streamed;
    for (let i = 0; i < 40; i++) {
      streamed = concord(['stream', '--pipeline', P, '--input', input, '--output', join(ws.dir, 'more-out.jsonl'), '--store', storeUrl]);
      if (streamed.code === 0 || !/cannot open the DuckDB store/.test(streamed.stderr)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(streamed!.code, streamed!.stderr).toBe(0);
    await page.waitForFunction((old) => {
      const t = (globalThis as any).document.querySelector('[data-pipeline="page_views_per_minute"] [data-testid="top-table"]');
      return t !== null && t.dataset.to !== old && (t.dataset.to ?? '') > '2026-11-24';
    }, before, { timeout: 30_000 });
    expect(await page.evaluate(() => (globalThis as any).marker)).toBe(42);
    const range = { from: await table.getAttribute('data-from'), to: await table.getAttribute('data-to') };
    const top = await api(`/api/pipelines/${P}/top?by=views&n=10&from=${range.from}&to=${range.to}`);
    const shown = await table.locator('[data-testid="top-row"]').evaluateAll((rows) => rows.map((r) => Number((r as any).dataset.total)));
    expect(shown).toEqual(top.keys.map((k: any) => k.total));
    expect(Number(await page.evaluate(() => (globalThis as any).document.body.dataset.liveEvents))).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  }, 120_000);

  it('day view: realtime next to batch, and the differences and causes of the reconcile report', async () => {
    await page.goto(`${base}/#/day/${DATE}`);
    await page.locator('[data-testid="day-card"]').nth(2).waitFor();
    await page.waitForFunction(() => (globalThis as any).document.querySelector('section.stack')?.getAttribute('data-ready') === 'true');
    for (const p of [P, U, F]) {
      const report = JSON.parse(readFileSync(join(demo, 'reports', DATE, `${p}.json`), 'utf8'));
      const rec = report.report;
      const card = page.locator(`[data-testid="day-card"][data-pipeline="${p}"]`);
      expect(await card.locator('[data-testid="day-status"]').textContent()).toBe('reconciled');
      const metric = async (name: string) => Number(await card.locator(`[data-metric="${name}"]`).getAttribute('data-value'));
      expect(await metric('cells')).toBe(rec.cells);
      expect(await metric('equal')).toBe(rec.equal);
      expect(await metric('different')).toBe(rec.different);
      expect(await metric('mismatch rate')).toBe(rec.metrics.mismatch_rate);
      expect(await metric('SMAPE')).toBe(rec.metrics.smape);
      expect(await metric('unexplained')).toBe(rec.unexplained);
      const causes = await card.locator('[data-testid="cause-row"]').evaluateAll((rows) => rows.map((r) => [(r as any).dataset.cause, Number((r as any).dataset.count)]));
      expect(causes).toEqual(Object.entries(rec.causes).filter(([, n]) => (n as number) > 0));
      const more = card.locator('button', { hasText: 'more' });
      while (await more.isVisible()) {
        const n = await card.locator('[data-testid="difference-row"]').count();
        await more.click();
        await page.waitForFunction(([name, count]) => (globalThis as any).document.querySelectorAll(`[data-pipeline="${name}"] [data-testid="difference-row"]`).length > (count as number), [p, n] as const);
      }
      const rows = await card.locator('[data-testid="difference-row"]').evaluateAll((els) => els.map((r) => ({
        cell: JSON.parse((r as any).dataset.cell!), cause: (r as any).dataset.cause,
        late: [...(r as any).querySelectorAll('[data-testid="late-events"] li[data-id]')].map((li: any) => li.dataset.id),
      })));
      expect(rows).toEqual(rec.differences.map((d: any) => ({ cell: d.cell, cause: d.cause, late: d.late_events.slice(0, 5).map((e: any) => e.id) })));
      const live = await card.locator('[data-testid="version-row"][data-live="true"]').getAttribute('data-version');
      expect(Number(live)).toBe(report.generation);
    }
    const chart = page.locator(`[data-testid="day-card"][data-pipeline="${U}"] [data-testid="day-chart"]`);
    expect(await chart.getAttribute('data-series')).toBe('2');
    expect(await inked(page, `[data-pipeline="${U}"] [data-testid="day-chart"] canvas`)).toBeGreaterThan(200);
    await page.evaluate(() => { for (const f of (globalThis as any).document.querySelectorAll('.feed')) f.scrollTop = 0; });
    await page.screenshot({ path: join(shots, 'dashboard-day.png'), fullPage: true });
    // A day the store holds nothing for says "no data", not "not reconciled yet".
    await page.goto('about:blank');
    await page.goto(`${base}/#/day/2020-01-01`);
    await page.waitForFunction(() => (globalThis as any).document.querySelector('section.stack')?.getAttribute('data-ready') === 'true');
    expect(await page.locator('[data-testid="day-card"]').count()).toBe(3);
    expect(await page.locator('[data-testid="day-empty"]').count()).toBe(3);
    expect(await page.locator('[data-testid="no-data"]').count()).toBe(3);
    expect(await page.locator('[data-testid="not-reconciled"]').count()).toBe(0);
    expect(problems).toEqual([]);
  }, 60_000);
});

/** Non-transparent pixels drawn on the canvas matched by `selector`. */
function inked(page: Page, selector: string): Promise<number> {
  return page.locator(selector).first().evaluate((c) => {
    const canvas = c as any;
    const data: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
    return n;
  });
}

describe('the dashboard with a user\'s definitions (unusual names)', () => {
  const dir = join(ws.dir, 'user');
  const defs = join(dir, 'rides.definitions.json');
  const url = `duckdb:${join(dir, 'store.duckdb')}`;
  const W = 'fares "per" city; DROP TABLE x; --', R = '<img src=x onerror=alert(1)> burst';
  let page: Page;
  let userBase = '';
  let user: ChildProcess | undefined;
  const problems: string[] = [];
  afterAll(() => { user?.kill('SIGTERM'); });

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(defs, JSON.stringify({
      schemas: { 'rides "€"': { time: 'pickup_at', id: 'ride_id', key: 'driver_id', fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', city: 'string', fare: 'decimal(2)' } } },
      pipelines: {
        [W]: { input: 'rides "€"', key: ['city'], window: { tumbling: '5m' }, aggregates: { 'total "€"': ['sum', 'fare'], "n'; --": 'count' } },
        [R]: { input: 'rides "€"', key: 'driver_id', rule: { within: '10m', count: true, more_than: 2, output: 'n' } },
      },
    }));
    const cities = ['Lisboa', `O'Porto "x"`, '<b>Faro</b>'];
    const start = Date.UTC(2026, 10, 23, 9);
    const lines = Array.from({ length: 240 }, (_, i) => JSON.stringify({ ride_id: `r${i}`, pickup_at: start + i * 15_000, driver_id: `d${i % 7}`, city: cities[i % 3 === 0 ? 0 : i % 5 === 0 ? 2 : 1], fare: `${5 + (i % 9)}.${i % 10}0` }));
    writeFileSync(join(dir, 'rides.jsonl'), lines.join('\n') + '\n');
    for (const p of [W, R]) {
      const r = concord(['stream', '--definitions', defs, '--pipeline', p, '--input', join(dir, 'rides.jsonl'), '--output', join(dir, `${p.length}.jsonl`), '--store', url]);
      expect(r.code, r.stderr).toBe(0);
    }
    const script = `import { serveCommand } from './cli/commands/serve.ts'; import { parseCommandArgs } from './cli/args.ts';
      const v = parseCommandArgs(serveCommand, ${JSON.stringify(['--store', url, '--definitions', defs, '--port', '0', '--log-level', 'warn'])}); process.exitCode = await serveCommand.run(v);`;
    user = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    userBase = await new Promise<string>((resolve, reject) => {
      createInterface({ input: user!.stderr! }).on('line', (l) => { const m = /^concord serve: (http:\/\/127\.0\.0\.1:\d+)\//.exec(l); if (m) resolve(m[1]!); });
      user!.on('exit', (code) => reject(new Error(`concord serve exited (${code})`)));
    });
    if (!browser) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', (d) => { problems.push(`a dialog opened: ${d.message()}`); void d.dismiss(); });
  }, 240_000);

  it('renders any definitions: names as text, numbers as the API returns them, nothing executed', async () => {
    await page.goto(`${userBase}/#/live`);
    const card = page.locator('[data-testid="chart-card"]').first();
    await card.locator('[data-testid="top-row"]').nth(2).waitFor();
    expect(await card.getAttribute('data-pipeline')).toBe(W);
    expect(await card.locator('h2').textContent()).toBe(W);
    const table = card.locator('[data-testid="top-table"]');
    const q = `by=${encodeURIComponent('total "€"')}&n=10&from=${await table.getAttribute('data-from')}&to=${await table.getAttribute('data-to')}`;
    const r = await fetch(`${userBase}/api/pipelines/${encodeURIComponent(W)}/top?${q}`);
    expect(r.status).toBe(200);
    const top = (await r.json()) as { keys: { key: { city: string }; total: number }[] };
    const shown = await table.locator('[data-testid="top-row"]').evaluateAll((rows) => rows.map((x) => ({ key: JSON.parse((x as any).dataset.key), total: Number((x as any).dataset.total) })));
    expect(shown).toEqual(top.keys.map((k) => ({ key: k.key, total: k.total })));
    expect(top.keys.map((k) => k.key.city).sort()).toEqual(['<b>Faro</b>', 'Lisboa', `O'Porto "x"`].sort());
    expect(await table.locator('td', { hasText: '<b>Faro</b>' }).count()).toBe(1);
    const alerts = page.locator(`[data-testid="alerts-card"][data-pipeline="${R}"]`);
    expect(await alerts.locator('h2').textContent()).toBe(R);
    await alerts.locator('[data-testid="alert-row"]').first().waitFor();
    expect(await page.locator('img').count()).toBe(0);
    await page.goto(`${userBase}/#/day/2026-11-23`);
    await page.locator('[data-testid="day-card"]').nth(1).waitFor();
    expect(await page.locator('[data-testid="not-reconciled"]').count()).toBe(2);
    expect(problems).toEqual([]);
  }, 60_000);
});
