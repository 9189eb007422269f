import { describe, expect, it } from 'vitest';
import { onStopSignal } from '../../cli/stop-signals.ts';

// A Ctrl-C under `npm run` reaches the process twice; a signal with no listener left kills Node mid-commit.
describe('stop signals', () => {
  it('the first SIGINT or SIGTERM stops once; later ones find a listener and are ignored', () => {
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const seen: string[] = [];
    const remove = onStopSignal((signal) => seen.push(signal));
    try {
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGTERM', 'SIGTERM');
      expect(seen).toEqual(['SIGINT']);
      expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
      expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    } finally {
      remove();
    }
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});
