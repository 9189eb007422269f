import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { LineBatch } from './source.ts';

/** The source name a file's events carry (its base name), e.g. `file:events.jsonl`. */
export function fileSourceName(path: string): string {
  return `file:${basename(path)}`;
}

/**
 * Reads a JSONL file in file order, in batches of lines. Offsets are 0-based line numbers, counting
 * every line (blank lines are skipped but keep their number), so positions are stable across reruns.
 */
export async function* readJsonlFile(path: string, options: { batchLines?: number; source?: string } = {}): AsyncGenerator<LineBatch> {
  try {
    await access(path);
  } catch (error) {
    throw new ConfigError(`cannot read input file ${path}: check the path`, { cause: error });
  }
  const source = options.source ?? fileSourceName(path);
  const batchLines = options.batchLines ?? 8192;
  let lines: string[] = [];
  let firstOffset = 0;
  let lineNo = 0;
  let carry = '';
  const flush = function* (): Generator<LineBatch> {
    if (lines.length > 0) yield { source, firstOffset, lines };
    lines = [];
  };
  const push = (line: string) => {
    if (lines.length === 0) firstOffset = lineNo;
    lines.push(line);
    lineNo++;
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = carry + (chunk as string);
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      push(text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl));
      start = nl + 1;
      if (lines.length >= batchLines) yield* flush();
    }
    carry = text.slice(start);
  }
  if (carry.length > 0) push(carry);
  yield* flush();
}

/** Same batches from lines already in memory (the embedded log). */
export function* batchesOf(source: string, all: readonly string[], batchLines = 8192, startOffset = 0): Generator<LineBatch> {
  for (let i = 0; i < all.length; i += batchLines) {
    yield { source, firstOffset: startOffset + i, lines: all.slice(i, i + batchLines) };
  }
}
