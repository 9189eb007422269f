import { removeUnfinishedFiles } from '../stream/sinks/jsonl-writer.ts';

/**
 * Calls `stop` on the first SIGINT or SIGTERM and keeps listening: a Ctrl-C under `npm run` reaches the
 * process twice (the terminal signals the whole process group, and npm relays its own), and a signal with
 * no listener left kills Node at once (exit 130), mid-commit. Later signals are ignored while the command
 * stops, as a JVM does while its shutdown hooks run; SIGKILL still stops it at once. Returns the remover.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): () => void {
  return onStopSignals(stop);
}

export interface StopSignalOptions {
  /** A later signal, the user's "stop now" (absent: ignored). */
  again?: (signal: NodeJS.Signals) => void;
  /** Signals this soon after the first are the same Ctrl-C delivered twice (default 1 s). */
  sameWithinMs?: number;
  now?: () => number;
}

/**
 * onStopSignal with a second signal that means "stop at once" (the jobs worker): the two deliveries of
 * one Ctrl-C under `npm run` arrive within milliseconds, so signals within `sameWithinMs` of the first
 * count as the first; one after that is the user's second.
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void, options: StopSignalOptions = {}): () => void {
  const now = options.now ?? Date.now;
  let first: number | undefined;
  const listener = (signal: NodeJS.Signals) => {
    if (first === undefined) {
      first = now();
      stop(signal);
    } else if (options.again && now() - first > (options.sameWithinMs ?? 1_000)) {
      options.again(signal);
    }
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/**
 * For every command: the first SIGINT or SIGTERM that no listener of the command's own takes (replay,
 * reconcile, report... have none; stream, archive, run, serve... decide themselves) removes the `.tmp`
 * of every output file not yet finished, says so and exits 130 / 143. Without a listener Node died at
 * once and left them beside the outputs. Returns the remover.
 */
export function stopWhereUnhandled(command: string): () => void {
  const listener = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return; // the command's own handler stops it
    const removed = removeUnfinishedFiles();
    process.stderr.write(`concord ${command}: ${signal}: stopped${removed > 0 ? `; ${removed} unfinished output file(s) removed` : ''} (run it again)\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}
