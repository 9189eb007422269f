import { ConcordError, OutputClosedError } from '../pipeline/errors.ts';
import { CLOSED_PIPE_EXIT } from './closed-pipe.ts';

/** The innermost cause of `error` (through `cause`, and the first of an AggregateError's `errors`). */
function rootCause(error: unknown): unknown {
  let e = error;
  for (let depth = 0; depth < 16 && e instanceof Error; depth++) {
    const next = e.cause ?? (e as { errors?: unknown[] }).errors?.[0];
    if (!(next instanceof Error)) break;
    e = next;
  }
  return e;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Tells why command `name` failed, on stderr, and returns its exit status:
 * - the user's (bad flag, input, definitions): the message, exit 2;
 * - a dependency's (broker, database, disk): the message and, when it does not say it already, the
 *   innermost cause, on one line, exit 1. No stack: it is nobody's bug, and a client library's chain of
 *   retries repeated the same cause many times;
 * - an output whose reader went away (OutputClosedError, perhaps as a cause): nothing, exit 141, as
 *   SIGPIPE ends a Unix tool (cli/closed-pipe.ts does the same for process.stdout);
 * - anything else is a bug: the stack and each cause once, exit 1.
 */
export function reportFailure(name: string, error: unknown, write: (text: string) => void = (t) => void process.stderr.write(t)): number {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof OutputClosedError) return CLOSED_PIPE_EXIT;
  }
  if (error instanceof ConcordError && error.domain === 'user') {
    write(`concord ${name}: ${error.message}\n`);
    return 2;
  }
  if (error instanceof ConcordError && error.domain === 'external') {
    const root = rootCause(error);
    const rootLine = messageOf(root).split('\n')[0] ?? ''; // one line: a database's HINT/DETAIL lines are not it
    const why = root === error || error.message.includes(rootLine) ? '' : ` (${rootLine})`;
    write(`concord ${name}: ${error.message}${why}\n`);
    return 1;
  }
  write(`concord ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  const seen = new Set<string>();
  for (let e: unknown = error instanceof Error ? error.cause : undefined, depth = 0; e !== undefined && depth < 16; e = e instanceof Error ? e.cause : undefined, depth++) {
    const text = messageOf(e);
    if (!seen.has(text)) write(`caused by: ${text}\n`);
    seen.add(text);
  }
  return 1;
}
