import { isUtf8 } from 'node:buffer';
import { envNumber } from '../pipeline/env-number.ts';

/**
 * What a hostile line can cost: at most `maxLineBytes` are ever held for one line (longer ones are
 * rejected while they stream past), and a dead letter echoes at most `RAW_PREFIX_BYTES` of it.
 */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
export const RAW_PREFIX_BYTES = 4096;

/**
 * The line limit: env CONCORD_MAX_LINE_BYTES (bytes), else 1 MiB. A value that is no positive whole
 * number is the user's mistake, said (it fell back to 1 MiB silently: a limit set as "2MB" was ignored).
 */
export function maxLineBytes(env: NodeJS.ProcessEnv = process.env): number {
  return envNumber('CONCORD_MAX_LINE_BYTES', DEFAULT_MAX_LINE_BYTES, { integer: true, min: 1, unit: 'bytes' }, env);
}

/** A line that never became text: too long, or not UTF-8. `raw` is a bounded prefix. */
export interface LineProblem {
  readonly reason: string;
  /** The first bytes of the line as text (valid UTF-8), or base64 of them (`encoding: 'base64'`). */
  readonly raw: string;
  readonly encoding: 'utf8' | 'base64';
  /** Bytes of the whole line. */
  readonly bytes: number;
}

/** Judges the bytes of one line (without its newline); null when it is UTF-8 within the limit. */
export function lineProblem(bytes: Buffer, limit: number, total = bytes.length): LineProblem | null {
  // The prefix only for a problem: a view per record is measurable garbage at millions of records.
  if (total > limit) {
    return { reason: `line of ${total} bytes is over the line limit of ${limit} bytes (CONCORD_MAX_LINE_BYTES)`, ...bounded(bytes.subarray(0, RAW_PREFIX_BYTES)), bytes: total };
  }
  if (!isUtf8(bytes)) return { reason: 'not UTF-8: the original bytes are kept in base64', raw: bytes.subarray(0, RAW_PREFIX_BYTES).toString('base64'), encoding: 'base64', bytes: total };
  return null;
}

function bounded(prefix: Buffer): { raw: string; encoding: 'utf8' | 'base64' } {
  // A cut may split a character: drop up to 3 trailing bytes before calling it text.
  for (let cut = prefix.length; cut >= Math.max(0, prefix.length - 3); cut--) {
    if (isUtf8(prefix.subarray(0, cut))) return { raw: prefix.subarray(0, cut).toString('utf8'), encoding: 'utf8' };
  }
  return { raw: prefix.toString('base64'), encoding: 'base64' };
}
