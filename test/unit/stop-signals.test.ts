import { describe, expect, it } from 'vitest';
import { onStopSignal, onStopSignals } from '../../cli/stop-signals.ts';

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

  // The jobs worker takes a second signal as "stop now": Ctrl-C under `npm run` (two deliveries within
  // milliseconds) interrupted its job as if the user had pressed it twice.
  it('with a "stop now": signals within a second of the first are the first; a later one is the second', () => {
    let clock = 1_000;
    const seen: string[] = [];
    const remove = onStopSignals((signal) => seen.push(`stop ${signal}`), { again: (signal) => seen.push(`now ${signal}`), now: () => clock });
    try {
      process.emit('SIGINT', 'SIGINT');
      clock += 5;
      process.emit('SIGINT', 'SIGINT');
      clock += 900;
      process.emit('SIGTERM', 'SIGTERM');
      expect(seen).toEqual(['stop SIGINT']);
      clock += 200;
      process.emit('SIGINT', 'SIGINT');
      expect(seen).toEqual(['stop SIGINT', 'now SIGINT']);
    } finally {
      remove();
    }
  });
});
