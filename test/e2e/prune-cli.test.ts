import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { P } from '../fixtures/result-store.ts';
import { fillRetentionStore, MID, OLD } from '../fixtures/retention-store.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';
import { openStore } from '../../store/open-store.ts';
import { seedRegistry } from '../../examples/seed.ts';

// `concord prune` (cli/commands/prune.ts) over a DuckDB store with two sealed old days.
const ws = tempWorkspace('prune-cli');

describe('concord prune', () => {
  it('--dry-run says the days, versions and rows per table it would delete and deletes nothing; then the run deletes exactly that', async () => {
    const file = join(ws.dir, 'store.duckdb');
    await (await fillRetentionStore(`duckdb:${file}`)).close();
    const dry = concord(['prune', '--store', `duckdb:${file}`, '--keep-days', '5', '--keep-versions', '1', '--dry-run']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      'would delete (keep days 5, superseded versions 1):\n' +
      `  ${P}: 1 day whole (${OLD}), 1 superseded version of 1 day; 17 rows ` +
      '(changes 1, day_live 1, day_versions 1, late_events 1, reconciliations 2, result_history 1, result_rows 9, switch_log 1)\n' +
      `  input schema clicks: verdicts on events before ${MID}; 2 rows (quarantined_events 1, rejected_events 1)\n`);
    const before = await held(file);
    expect(Object.keys(before.days)).toEqual([OLD, MID, '2026-11-23']);

    // The settings from the config file this time (flags, env and file are one setting).
    const config = join(ws.dir, 'retention.json');
    writeFileSync(config, JSON.stringify({ retentionDays: 5, retentionVersions: 1, allowedLateness: '5m' }));
    const run = concord(['prune', '--store', `duckdb:${file}`, '--config', config]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').slice(1, 3)).toEqual(dry.stdout.split('\n').slice(1, 3));
    expect(run.stdout).toMatch(/^deleted \(keep days 5, superseded versions 1\):\n/);
    const after = await held(file);
    expect(after.pruned).toEqual([OLD]);
    expect(Object.keys(after.days)).toEqual([MID, '2026-11-23']);
    expect(after.days[MID]).toEqual({ ...before.days[MID], result_rows: before.days[MID]!.result_rows! - 3, reconciliations: 3 });
    // The stream's verdicts on OLD's events went with it; MID's, and the other schema's (no pipeline of it streamed here), stay.
    expect(after.verdicts).toEqual([['clicks', 101], ['transactions', 100]]);
    // A report of the pruned day says so (exit 2), not an empty report; of a kept day it reports as before.
    const gone = concord(['report', '--date', OLD, '--pipeline', P, '--store', `duckdb:${file}`]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(new RegExp(`${OLD} was pruned by the store's retention: ${P} \\(at \\d{4}-`));
    expect(concord(['report', '--date', MID, '--pipeline', P, '--store', `duckdb:${file}`]).code).toBe(0);
    expect(concord(['prune', '--store', `duckdb:${file}`, '--config', config, '--dry-run']).stdout).toBe('nothing to prune (keep days 5, superseded versions 1)\n');
  });

  it('user errors exit 2 with what to do: no retention set, a setting that is no whole number', () => {
    const file = join(ws.dir, 'none.duckdb');
    const none = concord(['prune', '--store', `duckdb:${file}`], { CONCORD_RETENTION_DAYS: '', CONCORD_RETENTION_VERSIONS: '', CONCORD_CONFIG: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no retention is set, so nothing would go: give --keep-days N/);
    expect(none.stderr).not.toMatch(/\n\s+at /);
    const bad = concord(['prune', '--store', `duckdb:${file}`], { CONCORD_RETENTION_DAYS: '90d' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/environment CONCORD_RETENTION_DAYS: expected a whole number of days \(e\.g\. 90\), got "90d"/);
    expect(concord(['prune', '--help']).stdout).toMatch(/--dry-run {18}say what would go/);
  });
});

async function held(file: string) {
  const store = await openStore(`duckdb:${file}`, { registry: seedRegistry() });
  try {
    const verdicts = await Promise.all(['clicks', 'transactions'].map(async (schema) => (await store.quarantinedEvents(schema, -Infinity, Infinity)).map((v) => [schema, v.position.offset])));
    return { ...await store.heldRows(P), verdicts: verdicts.flat() };
  } finally {
    await store.close();
  }
}
