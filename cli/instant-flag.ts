/** A command-line instant (`--read-at`): read as event times are, so a time the stream refuses is not guessed here. */

import { ConfigError, SchemaViolationError } from '../pipeline/errors.ts';
import { parseIsoTimestamp } from '../schemas/timestamps.ts';

/**
 * Epoch ms of `text`: ISO 8601 with Z or an offset, or epoch milliseconds. A time without a zone, or
 * ending in an abbreviation ("10:00 EST"), is refused naming what to write: JavaScript's date parser
 * read the first in the machine's zone and the second as a fixed offset.
 */
export function parseInstantFlag(flag: string, text: string): number {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  // A flag has no schema whose time_zone could read it (the event-time message would point there).
  if (/^\d{4}-\d{2}-\d{2}[T ][\d:.,]+$/.test(text)) throw new ConfigError(`--${flag} ${text}: no time zone; add Z (UTC) or an offset, e.g. ${text.replace(' ', 'T')}Z`);
  try {
    return parseIsoTimestamp(text, `--${flag}`);
  } catch (err) {
    if (err instanceof SchemaViolationError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}
