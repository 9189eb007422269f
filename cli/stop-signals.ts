/**
 * Calls `stop` on the first SIGINT or SIGTERM and keeps listening: a Ctrl-C under `npm run` reaches the
 * process twice (the terminal signals the whole process group, and tsx relays its own), and a signal with
 * no listener left kills Node at once (exit 130), mid-commit. Later signals are ignored while the command
 * stops, as a JVM does while its shutdown hooks run; SIGKILL still stops it at once. Returns the remover.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): () => void {
  let stopping = false;
  const listener = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}
