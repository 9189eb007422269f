import { describe, expect, it } from 'vitest';
import { reportFailure } from '../../cli/failure.ts';
import { statementFailed } from '../../store/sql-driver.ts';

// A store statement that failed was reported with the statement's first 300 characters on lines of their
// own, also when the database was only down or full: several lines and no word on what to do.
const SQL = `INSERT INTO concord.result_rows (pipeline, generation)
    SELECT pipeline, 0 FROM stage`;

function printed(error: unknown): { text: string; code: number } {
  let text = '';
  const code = reportFailure('stream', error, (t) => { text += t; });
  return { text, code };
}

describe('a failed store statement, as the CLI prints it', () => {
  it('the database down, full or refusing: one line saying to run again, no SQL', () => {
    const full = Object.assign(new Error('could not extend file "base/16384/2619": No space left on device'), { code: '53100' });
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const duckFull = new Error('IO Error: Could not write file "/data/store.duckdb.wal": No space left on device');
    for (const cause of [full, shutdown, duckFull]) {
      const { text, code } = printed(statementFailed('statement', SQL, cause));
      expect(code).toBe(1);
      expect(text).toBe(`concord stream: store statement failed: ${cause.message}: the database was down, full or refusing; run again once it answers\n`);
    }
    expect(printed(statementFailed('query', SQL, new Error('Connection terminated unexpectedly'), true)).text).not.toContain('INSERT');
  });

  it('anything else keeps the statement, on the same line', () => {
    const bug = Object.assign(new Error('column "generation" does not exist\nHINT: something'), { code: '42703' });
    const { text } = printed(statementFailed('statement', SQL, bug));
    expect(text).toBe('concord stream: store statement failed: column "generation" does not exist (in: INSERT INTO concord.result_rows (pipeline, generation) SELECT pipeline, 0 FROM stage)\n');
  });
});
