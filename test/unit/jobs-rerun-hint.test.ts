import { describe, expect, it } from 'vitest';
import { rerunOptions } from '../../cli/commands/jobs-enqueue.ts';

// The `--force` command `jobs enqueue` prints for a job it did not run again repeats the options given,
// so the rerun writes the same store and waits as this command did.
describe('jobs enqueue: the rerun hint', () => {
  it('repeats --store, --wait and --timeout with --allow-empty, the password never written', () => {
    expect(rerunOptions({ store: 'postgres://etl:s3cret@db:5432/prod', wait: true, timeout: '10m', 'allow-empty': true }))
      .toBe(" --allow-empty --store 'postgres://etl:***@db:5432/prod' --wait --timeout 10m");
    expect(rerunOptions({ store: 'duckdb:my store.duckdb' })).toBe(" --store 'duckdb:my store.duckdb'");
  });

  it('adds nothing the command was not given', () => {
    expect(rerunOptions({})).toBe('');
  });
});
