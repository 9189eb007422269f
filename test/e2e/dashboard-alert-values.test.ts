import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import type { AlertResult } from '../../schemas/results.ts';
import { createLogger } from '../../serve/logger.ts';
import { buildServer } from '../../serve/server.ts';
import { openStore, openStoreReader } from '../../store/open-store.ts';
import { launchChromium, watchedPage } from '../fixtures/dashboard-browser.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A rule alert listing many values (a fraud rule's 12 countries) ran past its row on the live view.
const ws = tempWorkspace('concord-dashboard-alert-values-');
let browser: Browser | undefined;
let close: (() => Promise<void>) | undefined;
afterAll(async () => {
  await browser?.close();
  await close?.();
  ws.cleanup();
});

const RULE = 'cards_used_in_many_countries';
const registry = parseDefinitions({
  schemas: { payments: { time: 'ts', id: 'txn_id', key: 'card_id', fields: { txn_id: 'string', ts: 'timestamp', card_id: 'string', country: 'string' } } },
  pipelines: { [RULE]: { input: 'payments', key: 'card_id', rule: { within: '1h', distinct: 'country', more_than: 3, output: 'countries' } } },
}, 'test');
const T0 = Date.UTC(2026, 10, 23, 10);
const COUNTRIES = ['Bosnia and Herzegovina', 'Central African Republic', 'Democratic Republic of the Congo', 'Dominican Republic', 'Equatorial Guinea',
  'Federated States of Micronesia', 'Saint Vincent and the Grenadines', 'São Tomé and Príncipe', 'Trinidad and Tobago', 'United Arab Emirates',
  'United Kingdom', 'United States of America'];

describe('the live view: an alert listing many values', () => {
  it('keeps the row within its card, and the whole list on hover', async () => {
    const url = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const writer = await openStore(url, { registry });
    const def = registry.pipeline(RULE);
    const alerts: AlertResult[] = [
      { kind: 'alert', pipeline: RULE, key: { card_id: 'c1' }, idField: 'txn_id', id: 't12', ts: T0, output: 'countries', value: COUNTRIES, late: false, watermark: T0, definitionVersion: definitionVersion(def) },
      { kind: 'alert', pipeline: RULE, key: { card_id: 'c2' }, idField: 'txn_id', id: 't4', ts: T0 + 1000, output: 'countries', value: COUNTRIES.slice(0, 4), late: false, watermark: T0, definitionVersion: definitionVersion(def) },
    ];
    await writer.writeRealtime(alerts);
    await writer.setWatermark(RULE, T0 + 60_000);
    await writer.close();
    const server = await buildServer({ registry, reader: await openStoreReader(url, { registry }), log: createLogger('silent') });
    close = () => server.close();
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });

    browser = await launchChromium();
    const problems: string[] = [];
    const page = await watchedPage(browser, problems);
    await page.setViewportSize({ width: 900, height: 900 });
    await page.goto(`${base}/#/live`);
    const card = page.locator(`article[data-pipeline="${RULE}"]`);
    await card.locator('[data-testid="alert-row"]').nth(1).waitFor();
    await page.screenshot({ path: '/tmp/s37/serve/alerts.png' });
    const fit = await card.evaluate((c) => {
      const box = c.getBoundingClientRect();
      return [...c.querySelectorAll('[data-testid="alert-row"]')].map((r) => {
        const row = r.getBoundingClientRect();
        const cell = r.querySelector('[data-field="value"]')!;
        return { right: row.right, card: box.right, height: row.height, scroll: cell.scrollWidth, width: cell.clientWidth };
      });
    });
    // Each row one line, within the card; the cell's text cut inside it, not past it.
    for (const f of fit) {
      expect(f.right, JSON.stringify(f)).toBeLessThanOrEqual(f.card);
      expect(f.scroll, JSON.stringify(f)).toBeLessThanOrEqual(f.width);
      expect(f.height, JSON.stringify(f)).toBeLessThan(40);
    }
    const long = card.locator('[data-testid="alert-row"][data-id="t12"] [data-field="value"] .clip');
    expect(await long.textContent()).toMatch(/^\(12\) Bosnia and Herzegovina · Central African Republic · /);
    expect(await long.getAttribute('title')).toBe(COUNTRIES.join(' · '));
    expect(problems).toEqual([]);
  }, 60_000);
});
