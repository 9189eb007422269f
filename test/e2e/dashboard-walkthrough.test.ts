import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { launchChromium, requireChromium, watchedPage, serveAddress } from '../fixtures/dashboard-browser.ts';

// The dashboard as a new user meets it with their own definitions (a composite key, a hopping window,
// averages, a pipeline with no results yet) and a day whose reconciliation published one pipeline and
// refused another: the page says what each number is and what each reconciliation did (a real browser,
// Debian's chromium).
const root = fileURLToPath(new URL('../..', import.meta.url));
const ws = tempWorkspace('concord-dashboard-walk-');
const DATE = '2026-11-23';
const FARES = 'fares_city_zone_15m', HOP = 'rides_hopping', TIPS = 'tips_per_hour';
/** Days of tips only: streamed and not reconciled; backfilled (the stream never wrote it, its watermark is before it). */
const STREAMED = '2026-11-20', BACKFILLED = '2026-11-21';
const defs = join(ws.dir, 'rides.definitions.json');
const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let base = '';

/** Rides every 30 s from `from` for `minutes`, over three cities and two zones. */
function rides(from: string, minutes: number, tag: string): string {
  const t0 = Date.parse(from);
  const cities = ['Oslo', 'Zürich', '東京'];
  return Array.from({ length: minutes * 2 }, (_, i) => JSON.stringify({
    ride_id: `${tag}${i}`, pickup_at: new Date(t0 + i * 30_000).toISOString(), driver_id: `d${i % 11}`,
    city: cities[i % 3], zone: i % 4 < 2 ? 'north' : 'south', fare: `${5 + (i % 17)}.${i % 10}0`, distance_km: 1 + (i % 13),
  })).join('\n') + '\n';
}

/** The definitions and the day's events (and half an hour more), written once for every block. */
function writeInputs(): void {
  if (existsSync(defs)) return;
  writeFileSync(defs, JSON.stringify({
    schemas: {
      rides: { time: 'pickup_at', id: 'ride_id', key: 'driver_id', fields: { ride_id: 'string', pickup_at: 'timestamp', driver_id: 'string', city: 'string', zone: 'string', fare: 'decimal(2)', distance_km: 'double?' } },
      tips: { time: 'at', id: 'tip_id', key: 'driver_id', fields: { tip_id: 'string', at: 'timestamp', driver_id: 'string', amount: 'decimal(2)' } },
    },
    pipelines: {
      [FARES]: { input: 'rides', key: ['city', 'zone'], window: { tumbling: '15m' }, aggregates: { rides: 'count', avg_km: ['avg', 'distance_km'] } },
      [HOP]: { input: 'rides', key: ['city'], window: { hopping: '30m', every: '10m' }, aggregates: { avg_fare: ['avg', 'fare'], rides: 'count' } },
      [TIPS]: { input: 'tips', key: [], window: { tumbling: '1h' }, aggregates: { total: ['sum', 'amount'] } },
    },
  }));
  writeFileSync(join(ws.dir, 'day.jsonl'), rides(`${DATE}T08:00:00Z`, 120, 'a'));
  writeFileSync(join(ws.dir, 'extra.jsonl'), rides(`${DATE}T10:00:00Z`, 30, 'b'));
  // Tips of two earlier days: one streamed (never reconciled), one only archived and backfilled.
  const tips = (day: string) => Array.from({ length: 48 }, (_, i) => JSON.stringify({ tip_id: `${day}-${i}`, at: new Date(Date.parse(`${day}T00:00:00Z`) + i * 1_800_000).toISOString(), driver_id: `d${i % 5}`, amount: `${1 + (i % 7)}.50` })).join('\n') + '\n';
  writeFileSync(join(ws.dir, 'tips-streamed.jsonl'), tips(STREAMED));
  writeFileSync(join(ws.dir, 'tips-all.jsonl'), tips(STREAMED) + tips(BACKFILLED));
}

async function api(path: string): Promise<any> {
  const r = await fetch(`${base}${path}`);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  ws.cleanup();
});

describe('the dashboard with a user\'s own pipelines and a partly reconciled day', () => {
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    requireChromium();
    writeInputs();
    const day = join(ws.dir, 'day.jsonl'), extra = join(ws.dir, 'extra.jsonl');
    const stream = (p: string, input: string) => {
      const r = concord(['stream', '--definitions', defs, '--pipeline', p, '--input', input, '--output', join(ws.dir, `${p}.jsonl`), '--store', store]);
      expect(r.code, r.stderr).toBe(0);
    };
    stream(FARES, day);
    stream(HOP, day);
    // Half an hour the archive never gets: the fares' reconciliation meets windows it cannot explain.
    stream(FARES, extra);
    const archived = concord(['archive', '--definitions', defs, '--schema', 'rides', '--input', day, '--dir', join(ws.dir, 'archive')]);
    expect(archived.code, archived.stderr).toBe(0);
    const reconcile = (p: string) => concord(['reconcile', '--definitions', defs, '--date', DATE, '--pipeline', p, '--archive', join(ws.dir, 'archive'), '--store', store, '--report-dir', join(ws.dir, 'reports')]);
    const hop = reconcile(HOP);
    expect(hop.code, hop.stderr).toBe(0);
    const fares = reconcile(FARES);
    expect(fares.stderr).toMatch(/UNEXPLAINED; nothing was corrected/);
    const tips = concord(['stream', '--definitions', defs, '--pipeline', TIPS, '--input', join(ws.dir, 'tips-streamed.jsonl'), '--output', join(ws.dir, 'tips.jsonl'), '--store', store]);
    expect(tips.code, tips.stderr).toBe(0);
    const tipsArchived = concord(['archive', '--definitions', defs, '--schema', 'tips', '--input', join(ws.dir, 'tips-all.jsonl'), '--dir', join(ws.dir, 'archive')]);
    expect(tipsArchived.code, tipsArchived.stderr).toBe(0);
    const backfilled = concord(['backfill', '--definitions', defs, '--from', BACKFILLED, '--to', BACKFILLED, '--pipeline', TIPS, '--archive', join(ws.dir, 'archive'), '--store', store]);
    expect(backfilled.code, backfilled.stderr).toBe(0);

    const script = `import { serveCommand } from './cli/commands/serve.ts'; import { parseCommandArgs } from './cli/args.ts';
      const v = parseCommandArgs(serveCommand, ${JSON.stringify(['--store', store, '--definitions', defs, '--port', '0', '--log-level', 'warn'])}); process.exitCode = await serveCommand.run(v);`;
    server = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    base = await serveAddress(server!);
    browser = await launchChromium();
    page = await watchedPage(browser, problems);
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 500/.test(m.text())) problems.push(m.text()); });
  }, 240_000);

  // The page showed a refused reconciliation's numbers and causes like a published one's: nothing said
  // that the day was not corrected.
  it('day view: says which reconciliation published a version and which published nothing, and why', async () => {
    const day = await api(`/api/days/${DATE}`);
    const rec = (p: string) => day.pipelines.find((x: any) => x.pipeline === p).reconciliation;
    expect(rec(FARES).status).toBe('failed_unexplained');
    expect(rec(HOP).status).toBe('published');
    await page.goto(`${base}/#/day/${DATE}`);
    await page.locator('[data-testid="day-card"]').nth(2).waitFor();
    const outcome = (p: string) => page.locator(`[data-testid="day-card"][data-pipeline="${p}"] [data-testid="rec-outcome"]`);
    expect(await outcome(FARES).getAttribute('data-status')).toBe('failed_unexplained');
    const failed = await outcome(FARES).textContent();
    const sub = (p: string) => page.locator(`[data-testid="day-card"][data-pipeline="${p}"] [data-testid="day-sub"]`).textContent();
    expect(failed).toContain(`published nothing: ${rec(FARES).unexplained} of ${rec(FARES).different} differences are unexplained, so version 0 (realtime) stays live`);
    expect(failed).toContain(`concord reconcile --date ${DATE} --pipeline ${FARES} --archive DIR --force`);
    // Its headline said "live version 0 (realtime, not reconciled)" above the reconciliation's numbers.
    expect(await sub(FARES)).toMatch(/^live version 0 \(realtime\) · /);
    expect(await outcome(HOP).textContent()).toContain(`published version ${rec(HOP).version}`);
    expect(await page.locator(`[data-testid="day-card"][data-pipeline="${TIPS}"] [data-testid="rec-outcome"]`).count()).toBe(0);
  }, 60_000);


  it('day view: a pipeline without data has a "no data" badge (not a padded box) and no blank chart', async () => {
    const card = page.locator(`[data-testid="day-card"][data-pipeline="${TIPS}"]`);
    const badge = card.locator('[data-testid="day-empty"]');
    // The empty state's rule (.empty: 28 px padding, centred) padded the badge into a box as tall as three lines.
    expect(await badge.evaluate((b) => (globalThis as any).getComputedStyle(b).paddingTop)).toBe('1px');
    expect(await card.locator('[data-testid="day-chart"]').count()).toBe(0);
    expect(await card.locator('[data-testid="day-chart-empty"]').textContent()).toBe(`no windows of ${DATE} in either version`);
    expect(problems).toEqual([]);
  }, 30_000);

  // A backfilled day's chart drew and labelled an empty "realtime (version 0)" line the day does not have,
  // and a day no reconciliation corrected drew the stream's line twice, the second labelled "batch".
  it('day view: the chart shows only the versions a day has (backfilled; streamed, not reconciled), and no read fails', async () => {
    const failed: string[] = [];
    const other = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    other.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
    other.on('console', (m) => { if (m.type() === 'error') failed.push(m.text()); });
    const asked: string[] = [];
    other.on('request', (r) => { if (r.url().includes('/api/pipelines/')) asked.push(decodeURIComponent(r.url())); });
    const card = other.locator(`[data-testid="day-card"][data-pipeline="${TIPS}"]`);
    const shown = async (day: string) => {
      await other.goto(`${base}/#/day/${day}`);
      await other.locator('section.stack[data-ready="true"]').waitFor();
      await card.locator('[data-testid="day-chart"][data-series]').waitFor();
      return { series: await card.locator('[data-testid="day-chart"]').getAttribute('data-series'), legend: await card.locator('.legend').textContent() };
    };
    const back = (await api(`/api/days/${BACKFILLED}`)).pipelines.find((p: any) => p.pipeline === TIPS);
    expect(back.versions.map((v: any) => v.version)).toEqual([1]);
    expect(back.stream_reached).toBe(false);
    const b = await shown(BACKFILLED);
    expect(b.series).toBe('1');
    expect(b.legend).not.toContain('version 0');
    expect(b.legend).toContain('batch total (version 1, live)');
    expect(b.legend).toContain(`no realtime line: the stream has not reached ${BACKFILLED} (the day was backfilled from the archive)`);
    expect(asked.filter((u) => u.includes(`date=${BACKFILLED}`) && u.includes('version=realtime'))).toEqual([]);
    expect(await card.locator('[data-testid="recomputed"]').textContent()).toMatch(new RegExp(`recomputed from the archive by a backfill.*; the stream has not reached ${BACKFILLED} yet \\(its watermark is at ${STREAMED} 23:`));
    expect(await card.locator('[data-testid="not-reconciled"]').count()).toBe(0);
    // The rides pipelines have nothing of the day: the stream passed it, so no "not reached" there.
    expect(await other.locator(`[data-pipeline="${FARES}"] [data-testid="no-data"]`).textContent()).not.toContain('not reached');
    const s = await shown(STREAMED);
    expect(s.series).toBe('1');
    expect(s.legend).toContain('realtime total (version 0, live)');
    expect(s.legend).not.toContain('batch total');
    expect(await card.locator('[data-testid="day-chart-missing"]').textContent()).toBe('no batch line: no reconciled version yet');
    // A day past the tips stream's watermark: nothing there yet, and the page says why.
    await other.goto(`${base}/#/day/2026-11-22`);
    await other.locator('section.stack[data-ready="true"]').waitFor();
    expect(await card.locator('[data-testid="no-data"]').textContent()).toContain('the stream has not reached the day yet (its watermark is at 2026-11-20 23:');
    expect(failed).toEqual([]);
    await other.close();
  }, 60_000);

  // One pipeline's failing read (a 500) left the whole day view with an error line and no card at all.
  it('day view: a pipeline whose report fails says so in its card; the others are shown', async () => {
    const other = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    await other.route((u) => u.pathname === `/api/days/${DATE}/pipelines/${HOP}/report`, (r) => r.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'internal error (see the server log)' }) }));
    await other.goto(`${base}/#/day/${DATE}`);
    await other.locator('[data-testid="day-card"]').nth(2).waitFor();
    expect(await other.locator('[data-testid="day-card"]').evaluateAll((cards) => cards.map((c) => (c as any).dataset.pipeline))).toEqual([FARES, HOP, TIPS]);
    expect(await other.locator(`[data-testid="day-card"][data-pipeline="${HOP}"] [data-testid="card-problem"]`).textContent()).toBe(`could not read ${HOP}: internal error (see the server log)`);
    expect(await other.locator(`[data-testid="day-card"][data-pipeline="${FARES}"] [data-testid="rec-metrics"]`).count()).toBe(1);
    expect(await other.locator('[data-testid="day-error"]').count()).toBe(0);
    await other.close();
  }, 30_000);

  // "avg_fare over the range" read 600 for fares of 5 to 22 (the windows' averages added up), and a
  // hopping window's count counted each ride three times under the same words; then the keys were still
  // ranked by those sums. Each aggregate is now ranked by its own combination and the header says which.
  it('live view: the top table ranks by the aggregate\'s own combination and says which', async () => {
    await page.goto(`${base}/#/live`);
    const card = (p: string) => page.locator(`[data-testid="chart-card"][data-pipeline="${p}"]`);
    await card(FARES).locator('[data-testid="top-row"]').first().waitFor();
    await card(HOP).locator('[data-testid="top-row"]').first().waitFor();
    expect(await card(FARES).locator('[data-testid="total-header"]').textContent()).toBe('rides over the range');
    const hopHeader = card(HOP).locator('[data-testid="total-header"]');
    expect(await hopHeader.textContent()).toBe('mean of the windows\' avg_fare');
    expect(await hopHeader.getAttribute('title')).toMatch(/each window weighing the same/);
    // The totals are each key's windows' mean over the chart's range, computed here from the rows themselves.
    const table = card(HOP).locator('[data-testid="top-table"]');
    const range = `from=${await table.getAttribute('data-from')}&to=${await table.getAttribute('data-to')}`;
    const rows = (await api(`/api/pipelines/${HOP}/windows?${range}&limit=5000`)).rows as { key: { city: string }; values: { avg_fare: number; rides: number } }[];
    const combined = (f: (xs: number[]) => number, of: 'avg_fare' | 'rides') => {
      const byKey = new Map<string, number[]>();
      for (const r of rows) byKey.set(JSON.stringify(r.key), [...(byKey.get(JSON.stringify(r.key)) ?? []), r.values[of]]);
      return [...byKey].map(([k, xs]) => [k, f(xs)] as const).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    };
    const shown = async () => table.locator('[data-testid="top-row"]').evaluateAll((trs) => trs.map((r) => [(r as any).dataset.key, Number((r as any).dataset.total)]));
    const means = new Map(combined((xs) => xs.reduce((a, b) => a + b, 0) / xs.length, 'avg_fare'));
    const ranked = await shown();
    expect(ranked.length).toBe(Math.min(10, means.size));
    for (const [key, total] of ranked) expect(total, key).toBeCloseTo(means.get(key)!, 9);
    expect(ranked.map(([, t]) => t)).toEqual([...ranked.map(([, t]) => t)].sort((a, b) => b - a));
    // A hopping window's count: ranked by its largest window (a sum counts each ride 3 times).
    await card(HOP).locator('select[aria-label="aggregate"]').selectOption('rides');
    await card(HOP).locator('[data-testid="total-header"]', { hasText: 'max of the windows\' rides' }).waitFor();
    expect(await card(HOP).locator('[data-testid="total-header"]').getAttribute('title')).toContain('each event counts in 3 of them');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-pipeline="rides_hopping"] [data-testid="top-table"]')?.dataset.aggregate === 'rides');
    expect((await shown()).map(([, t]) => t)).toEqual(combined((xs) => Math.max(...xs), 'rides').map(([, t]) => t));
    // The chart's time axis says its zone.
    expect(await card(FARES).locator('[data-testid="chart"]').getAttribute('data-x-label')).toBe('time (UTC)');
    // Its value axis says what the numbers are: a count of events, a mean of a decimal(2) field.
    expect(await card(FARES).locator('[data-testid="chart"]').getAttribute('data-y-label')).toBe('count of events');
    expect(await card(HOP).locator('[data-testid="chart"]').getAttribute('data-y-label')).toBe('count of events');
    await card(HOP).locator('select[aria-label="aggregate"]').selectOption('avg_fare');
    await card(HOP).locator('[data-testid="chart"][data-y-label="mean of fare (decimal, 2 places)"]').waitFor();
    expect(await card(HOP).locator('[data-testid="latest-header"]').getAttribute('title')).toBe('mean of fare (decimal, 2 places)');
    expect(problems).toEqual([]);
  }, 60_000);

  // Every view was titled "Concord", and the cards had no name: a screen reader listed five unnamed articles.
  it('names the view in the title and each pipeline\'s card by its pipeline', async () => {
    await page.goto(`${base}/#/day/${DATE}`);
    await page.locator('[data-testid="day-card"]').nth(2).waitFor();
    expect(await page.title()).toBe(`Day ${DATE} · Concord`);
    for (const p of [FARES, HOP, TIPS]) expect(await page.getByRole('article', { name: p, exact: true }).count(), p).toBe(1);
    await page.goto(`${base}/#/live`);
    await page.locator('[data-testid="chart-card"]').nth(2).waitFor();
    expect(await page.title()).toBe('Live · Concord');
    for (const p of [FARES, HOP, TIPS]) expect(await page.getByRole('article', { name: p, exact: true }).locator('h2').textContent(), p).toBe(p);
    expect(await page.getByRole('status', { name: 'live stream' }).count()).toBe(1);
  }, 30_000);
});

// The day view of an empty store said "No day has results yet" and stayed so while the first results
// arrived (the live view read again by itself; the day view never did).
describe('the day view of an empty store', () => {
  const empty = `duckdb:${join(ws.dir, 'empty.duckdb')}`;
  let other: ChildProcess | undefined;
  afterAll(() => { other?.kill('SIGTERM'); });

  it('shows the first day once results arrive, without a reload', async () => {
    writeInputs();
    browser ??= await launchChromium();
    const none = join(ws.dir, 'none.jsonl');
    writeFileSync(none, '');
    const made = concord(['stream', '--definitions', defs, '--pipeline', HOP, '--input', none, '--output', join(ws.dir, 'none-out.jsonl'), '--store', empty]);
    expect(made.code, made.stderr).toBe(0);
    const script = `import { serveCommand } from './cli/commands/serve.ts'; import { parseCommandArgs } from './cli/args.ts';
      const v = parseCommandArgs(serveCommand, ${JSON.stringify(['--store', empty, '--definitions', defs, '--port', '0', '--log-level', 'warn', '--poll', '200ms'])}); process.exitCode = await serveCommand.run(v);`;
    other = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const emptyBase = await serveAddress(other!);
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${emptyBase}/#/day`);
    await page.locator('[data-testid="empty-state"]', { hasText: 'No day has results yet' }).waitFor();
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.evaluate(() => { (globalThis as any).marker = 1; });
    // The live stream itself: the first rows of an empty store were taken for rows older than the
    // listener and never sent (only the watermark was).
    const listening = new AbortController();
    const sse = (await fetch(`${emptyBase}/api/live`, { signal: listening.signal })).body!.getReader();
    let said = '';
    const revision = (async () => {
      while (!said.includes('event: revision')) {
        const { value, done } = await sse.read().catch(() => ({ value: undefined, done: true }));
        if (done) return false;
        said += new TextDecoder().decode(value);
      }
      return true;
    })();
    const r = concord(['stream', '--definitions', defs, '--pipeline', HOP, '--input', join(ws.dir, 'day.jsonl'), '--output', join(ws.dir, 'late-out.jsonl'), '--store', empty]);
    expect(r.code, r.stderr).toBe(0);
    await page.locator(`[data-testid="day-card"][data-pipeline="${HOP}"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="empty-state"]').count()).toBe(0);
    expect(await page.locator('[data-testid="date-picker"]').inputValue()).toBe(DATE);
    expect(await page.evaluate(() => (globalThis as any).marker)).toBe(1);
    const bound = setTimeout(() => listening.abort(), 20_000); // a bound on a failure only
    expect(await revision, said.slice(0, 500)).toBe(true);
    clearTimeout(bound);
    listening.abort();
    await page.close();
  }, 90_000);
});
