import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { jobsCommand } from '../../cli/commands/jobs.ts';
import { ConcordJobs } from '../../jobs/job-queue.ts';
import { seedPipelineNames } from '../../examples/seed.ts';
import { dayRange } from '../../reconcile/day-range.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The real parser, its calls counted.
vi.mock('../../reconcile/day-range.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../reconcile/day-range.ts')>();
  return { ...real, dayRange: vi.fn(real.dayRange) };
});

// `concord jobs backfill --from --to` (real Redis, an embedded store of its own): its days are checked
// once, by the CLI (cli/day-span-flags.ts); the queue's enqueueBackfill parsed and ordered both ends again.
const ws = tempWorkspace('concord-jobs-backfill-days-');
const prefix = `storedays${randomUUID().slice(0, 8)}`;
afterAll(async () => {
  const jobs = new ConcordJobs(seedPipelineNames, { prefix });
  await jobs.queue.obliterate({ force: true });
  await jobs.close();
  ws.cleanup();
});

describe('concord jobs backfill: the days of --from/--to', () => {
  it('checks each day once, with the CLI\'s messages and exit codes', async () => {
    vi.stubEnv('CONCORD_QUEUE_PREFIX', prefix);
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { out.push(String(chunk)); return true; });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      vi.mocked(dayRange).mockClear();
      const code = await jobsCommand.run({ do: 'backfill', from: '2026-11-20', to: '2026-11-22', store: `duckdb:${join(ws.dir, 'store.duckdb')}` });
      expect(code).toBe(0);
      expect(out.join('')).toBe('no dirty cells in that range: nothing to backfill\n');
      expect(vi.mocked(dayRange).mock.calls.map(([d]) => d)).toEqual(['2026-11-20', '2026-11-22']);
      // The refusals are the CLI's own, before Redis is asked.
      await expect(jobsCommand.run({ do: 'backfill', from: '2026-11-22', to: '2026-11-20' })).rejects.toThrow('--from 2026-11-22 is after --to 2026-11-20');
      await expect(jobsCommand.run({ do: 'backfill', from: '2026-11-31', to: '2026-12-01' })).rejects.toThrow('--from: "2026-11-31" is not a date');
    } finally {
      write.mockRestore();
      err.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});
