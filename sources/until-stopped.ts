import type { LineSource } from './source.ts';

/**
 * `source` until `stop` is aborted, then its reason is thrown at once: the consumer's clean-up runs
 * even while the source waits for lines that may never come (a pipe whose writer went quiet). The
 * read under way is left to end by itself; the source is closed after it.
 */
export async function* untilStopped(source: LineSource, stop: AbortSignal): LineSource {
  const lines = source[Symbol.asyncIterator]();
  const stopped = new Promise<never>((_, reject) => {
    if (stop.aborted) reject(stop.reason);
    stop.addEventListener('abort', () => reject(stop.reason), { once: true });
  });
  stopped.catch(() => undefined); // raised by the race below, never unhandled
  let done = false;
  try {
    while (!done) {
      const next = await Promise.race([lines.next(), stopped]);
      done = next.done === true;
      if (!next.done) yield next.value;
    }
  } finally {
    if (!done) void lines.return?.().catch(() => undefined);
  }
}
