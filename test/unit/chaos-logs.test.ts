import { afterAll, describe, expect, it } from 'vitest';
import { Logs } from '../../infra/chaos/procs.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A chaos run that times out in CI says where each role stood: the message quotes the last lines of the
// roles still running (CI deletes the clone, and the logs with it).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());

describe('chaos logs', () => {
  it('quotes the last lines of a role\'s log, by the name the role writes under', async () => {
    const logs = new Logs(ws.dir);
    const log = logs.of('faults-worker-a');
    await new Promise<void>((resolve) => log.write(Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n', () => resolve()));
    expect(logs.tail('faults-worker-a', 3)).toBe('line 27\nline 28\nline 29');
    expect(logs.tail('faults-sink', 3)).toMatch(/^\(no log: .*ENOENT/);
    logs.close();
  });
});
