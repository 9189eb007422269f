import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDay } from '../../generate/realistic-day.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { seedRegistry } from '../../examples/seed.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { reportPath } from '../../reconcile/reconcile-day.ts';
import { openStore } from '../../store/open-store.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { archiveClicks, streamClicks } from '../fixtures/jobs-cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Two teams' job workers started in one directory write their reports to the default .concord/reports:
// both have a page_views_per_minute, so the second team's report of the day replaced the first's
// (and a rerun of the first team's job took the other's file for its own report and skipped writing it).
const ws = tempWorkspace('concord-report-two-stores-');
const DATE = '2026-11-23';
const P = 'page_views_per_minute';
const stores: SqlResultStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  ws.cleanup();
});

describe('reconcile reports of two stores in one report directory', () => {
  it('the second store\'s job is refused before it publishes, naming both stores; the first store\'s report stays', async () => {
    const day = generateDay({ seed: 7, date: DATE, clicks: 600, transactions: 0, lateFraction: 0 });
    const archiveDir = join(ws.dir, 'archive');
    await archiveClicks(archiveDir, day.clicks, 'file:clicks.jsonl');
    const reportDir = join(ws.dir, 'reports');
    const processorsOf = async (name: string) => {
      const store = await openStore(`duckdb:${join(ws.dir, `${name}.duckdb`)}`, { registry: seedRegistry() });
      stores.push(store);
      await streamClicks(store, [['file:clicks.jsonl', day.clicks]]);
      return { store, processors: defaultProcessors({ store, registry: seedRegistry(), archiveDir, reportDir, storeName: `store ${name}` }) };
    };
    const progress = async () => undefined;
    const one = await processorsOf('one');
    await one.processors.reconcile({ date: DATE, pipeline: P, jobId: `reconcile__${P}__${DATE}`, attempt: 0 }, progress);
    const written = () => JSON.parse(readFileSync(reportPath(reportDir, DATE, P, 'json'), 'utf8')) as { store?: string; job_id: string };
    expect(written().store).toBe('store one');

    const two = await processorsOf('two');
    const refused = await two.processors.reconcile({ date: DATE, pipeline: P, jobId: `reconcile__${P}__${DATE}`, attempt: 0 }, progress).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String((refused as Error).message)).toContain(`${reportPath(reportDir, DATE, P, 'json')} is the report of store one`);
    expect(String((refused as Error).message)).toContain('store two');
    expect(String((refused as Error).message)).toContain('--report-dir');
    expect(written().store).toBe('store one');
    // Refused before anything was published: the second store's day is still the stream's.
    expect(await two.store.reconciliations(P, DATE)).toEqual([]);
    // A rerun of the first store's job (after it published) finds its own report: done, nothing redone.
    const again = await one.processors.reconcile({ date: DATE, pipeline: P, jobId: `reconcile__${P}__${DATE}`, attempt: 1 }, progress);
    expect(again.resumed).toBeDefined();
  }, 120_000);
});
