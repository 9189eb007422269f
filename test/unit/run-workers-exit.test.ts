import { describe, expect, it } from 'vitest';
import { exitCodeOf, workersEnded } from '../../cli/commands/run-workers.ts';

// `run --workers N` ends with one line for its workers. A worker killed by a signal (SIGKILL from an
// operator or the OOM killer) was reported as "exit codes 0, 1": neither which worker nor that a signal
// ended it; the command's exit code was 1, not the 137 a shell reports.
describe('run --workers: how the workers ended', () => {
  it('names each failed worker and the signal that ended it; exit code 128 + signal number', () => {
    const exits = [{ id: 'w-0', code: 0, signal: null }, { id: 'w-1', code: null, signal: 'SIGKILL' as const }, { id: 'w-2', code: 2, signal: null }];
    expect(workersEnded(exits)).toBe('3 workers ended: exit codes 0, 137, 2 (w-1 killed by SIGKILL, w-2 exited 2)');
    expect(exits.map(exitCodeOf)).toEqual([0, 137, 2]);
    expect(exitCodeOf({ id: 'w', code: null, signal: 'SIGTERM' })).toBe(143);
  });

  it('all well: the exit codes alone', () => {
    expect(workersEnded([{ id: 'a', code: 0, signal: null }, { id: 'b', code: 0, signal: null }])).toBe('2 workers ended: exit codes 0, 0');
  });
});
