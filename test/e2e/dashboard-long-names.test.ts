import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { definitionVersion, type PipelineDefinition } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { WindowResult } from '../../schemas/results.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { launchChromium, watchedPage } from '../fixtures/dashboard-browser.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The live view with a user's pipeline names as long as they write them, and a rule that raised no alert
// (a real browser, Debian's chromium). A 100-character name ran past its card (one word, never wrapped),
// a rule whose stream had read the day said "no results of this pipeline in the store yet", a chart
// stopped while the stream wrote into a reconciled day (its dirty cells unsaid); in the day
// view the version table's job id (which names the pipeline) squeezed the other columns to a few letters a line.
const ws = tempWorkspace('concord-dashboard-long-names-');
let browser: Browser | undefined;
let close: (() => Promise<void>) | undefined;
afterAll(async () => {
  await browser?.close();
  await close?.();
  ws.cleanup();
});

const LONG = 'edge_gateway_request_latency_percentiles_per_endpoint_and_region_five_minute_windows_for_capacity_planning';
const RULE = 'user_request_burst';
const registry = parseDefinitions({
  schemas: { requests: { time: 'ts', id: 'id', key: 'endpoint', fields: { id: 'string', ts: 'timestamp', endpoint: 'string', user_id: 'string' } } },
  pipelines: {
    [LONG]: { input: 'requests', key: ['endpoint'], window: { tumbling: '5m' }, aggregates: { requests: 'count' } },
    [RULE]: { input: 'requests', key: 'user_id', rule: { within: '2m', count: true, more_than: 4, output: 'n' } },
  },
}, 'test');
const DATE = '2026-11-23';
const T0 = Date.UTC(2026, 10, 23, 10);
const W = T0 + 3 * 300_000;

describe('the live view with long names and a rule without alerts', () => {
  it('wraps a long pipeline name inside its card, says that a quiet rule raised no alert and that a reconciled day waits for a backfill', async () => {
    const url = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const writer = await openStore(url, { registry });
    const def = registry.pipelines.find((p) => p.name === LONG) as PipelineDefinition;
    const rows: WindowResult[] = [0, 1, 2].map((i) => ({
      kind: 'window', pipeline: LONG, windowStart: T0 + i * 300_000, windowEnd: T0 + (i + 1) * 300_000, key: { endpoint: `/e${i}` },
      values: { requests: i + 1 }, revision: 0, watermark: T0 + (i + 1) * 300_000, definitionVersion: definitionVersion(def),
    }));
    await writer.writeRealtime(rows);
    await writer.setWatermark(LONG, W);
    await writer.setWatermark(RULE, W);
    await writer.publishDay(LONG, DATE, rows, { jobId: `reconcile:${LONG}:${DATE}`, provenance: 'reconciled' });
    // A window the stream wrote after the day was reconciled: a dirty cell, not in the live version.
    await writer.writeRealtime([{ ...rows[0]!, windowStart: T0 + 3 * 300_000, windowEnd: T0 + 4 * 300_000, key: { endpoint: '/late' } }]);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry }), log: createLogger('silent') });
    close = () => server.close();
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });

    browser = await launchChromium();
    const problems: string[] = [];
    const page = await watchedPage(browser, problems);
    await page.goto(`${base}/#/live`);
    const card = (p: string) => page.locator(`article[data-pipeline="${p}"]`);
    await card(LONG).locator('[data-testid="top-row"]').first().waitFor();
    // The name is the card's heading, whole, and no wider than the card.
    const fit = await card(LONG).evaluate((c) => {
      const h = c.querySelector('h2')!;
      return { text: h.textContent, heading: h.getBoundingClientRect().right, card: c.getBoundingClientRect().right, scroll: h.scrollWidth, width: h.clientWidth };
    });
    expect(fit.text).toBe(LONG);
    expect(fit.scroll).toBeLessThanOrEqual(fit.width);
    expect(fit.heading).toBeLessThanOrEqual(fit.card);
    // The reconciled day's stream writes wait for a backfill: said beside the watermark, with what to run.
    const dirty = page.locator(`[data-testid="stat"][data-pipeline="${LONG}"] [data-field="dirty"]`);
    expect(await dirty.textContent()).toBe('1 (run concord backfill)');
    expect(await page.locator(`[data-testid="stat"][data-pipeline="${RULE}"] [data-field="dirty"]`).count()).toBe(0);
    const quiet = card(RULE).locator('[data-testid="no-results"]');
    await quiet.waitFor();
    expect(await quiet.textContent()).toBe('no alert: the stream reached 2026-11-23 10:15Z (its watermark) and the rule raised none');

    await page.goto(`${base}/#/day/${DATE}`);
    const versions = page.locator(`[data-testid="day-card"][data-pipeline="${LONG}"] [data-testid="versions"]`);
    await versions.locator('[data-testid="version-row"]').nth(1).waitFor();
    // Every cell's text on one line (a Range has one box per line it takes); the job id whole in its title.
    const lines = await versions.evaluate((t) => [...t.querySelectorAll('th, td')].map((c) => {
      const doc = (globalThis as any).document;
      const texts = doc.createTreeWalker(c, 4 /* NodeFilter.SHOW_TEXT */);
      const tops = new Set<number>();
      for (let n = texts.nextNode(); n; n = texts.nextNode()) {
        const r = doc.createRange();
        r.selectNodeContents(n);
        for (const b of r.getClientRects()) tops.add(Math.round(b.top));
      }
      return [c.textContent, tops.size];
    }));
    expect(lines.filter(([, n]) => n > 1)).toEqual([]);
    expect(await versions.locator('[data-field="job"] .clip').nth(1).getAttribute('title')).toBe(`reconcile:${LONG}:${DATE}`);
    expect(problems).toEqual([]);
  }, 90_000);
});
