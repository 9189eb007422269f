import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { defaultProcessors } from '../../jobs/default-processors.ts';
import { openStore } from '../../store/open-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

describe('a reconcile job of a day without archived events', () => {
  it('fails saying which command reruns it: retry after archiving, or a new job with --allow-empty', async () => {
    const ws = tempWorkspace('jobs-empty-day');
    const archiveDir = join(ws.dir, 'archive');
    mkdirSync(archiveDir, { recursive: true });
    const registry = seedRegistry();
    const store = await openStore('duckdb::memory:', { registry });
    try {
      const processors = defaultProcessors({ store, registry, archiveDir });
      const job = { date: '2026-11-25', pipeline: 'page_views_per_minute', jobId: 'reconcile__page_views_per_minute__2026-11-25' };
      // "pass --allow-empty" alone sent the operator to `jobs retry --allow-empty` (refused: not an option of
      // retry) or `jobs enqueue --allow-empty` (the job id exists: not enqueued again).
      await expect(processors.reconcile(job, async () => undefined)).rejects.toThrow(
        `no archived events for 2026-11-25 in ${archiveDir}: archive the day first, then \`concord jobs retry --date 2026-11-25\`; ` +
        'or, for a day without traffic, `concord jobs enqueue --date 2026-11-25 --pipeline page_views_per_minute --allow-empty --force`');
    } finally {
      await store.close();
      ws.cleanup();
    }
  });
});
