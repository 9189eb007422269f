import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { basename, resolve } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import { RAW_PREFIX_BYTES, lineProblem, maxLineBytes, type LineProblem } from './line-limits.ts';
import type { LineBatch } from './source.ts';

/** The source name a file's events carry (its base name), e.g. `file:events.jsonl`. */
export function fileSourceName(path: string): string {
  return `file:${basename(path)}`;
}

const NL = 10, CR = 13;

/**
 * A part of a file to read: bytes [fromByte, toByte), whose first line is line `firstLine` of the file
 * (the lines a grown file appended since it was archived; `fromByte` starts a line).
 */
export interface ByteSpan {
  readonly fromByte: number;
  readonly toByte: number;
  readonly firstLine: number;
}

/**
 * `/dev/stdin` and its other names: this process's descriptor 0, read through process.stdin. Opened
 * again by name, a socket (the stdin Node gives a child process, a service's socket) fails with ENXIO.
 */
const OWN_STDIN = /^\/(?:dev\/stdin|dev\/fd\/0|proc\/self\/fd\/0)$/;

/**
 * Reads a JSONL file in file order, in batches of lines. Offsets are 0-based line numbers, counting
 * every line (blank lines are skipped but keep their number), so positions are stable across reruns.
 * Bytes are split into lines before they become text: a line that is not UTF-8, or longer than the
 * line limit (never held whole: it is skipped while it streams past), arrives as a problem of the
 * batch (its dead letter keeps a bounded prefix, in base64 where it is not text).
 */
export async function* readJsonlFile(path: string, options: { batchLines?: number; source?: string; maxLineBytes?: number; span?: ByteSpan } = {}): AsyncGenerator<LineBatch> {
  // Said before reading (the CLI checks its flags earlier, naming them): a directory failed mid-read with EISDIR.
  const found = await stat(path).catch((error: unknown) => {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(`cannot read input file ${path}: ${missing ? `no such file (looked for ${resolve(path)})` : String(error)}`, { cause: error });
  });
  if (found.isDirectory()) throw new ConfigError(`input ${path} is a directory: name a JSON-lines file`);
  const live = !found.isFile();
  const kind = live ? undefined : await binaryKind(path);
  if (kind === 'gzip') {
    throw new ConfigError(`input ${path} is gzip-compressed: decompress it, or pipe it in (zcat ${path} | concord ... --input -)`);
  }
  if (kind === 'parquet') {
    throw new ConfigError(`input ${path} is a Parquet file (an archive's): this command reads JSON lines; \`concord replay --input DIR\` reads an archive`);
  }
  const source = options.source ?? fileSourceName(path);
  const batchLines = options.batchLines ?? 8192;
  const limit = options.maxLineBytes ?? maxLineBytes();
  let lines: string[] = [];
  let problems: Map<number, LineProblem> | undefined;
  let firstOffset = options.span?.firstLine ?? 0;
  let lineNo = firstOffset;
  // The line being read across chunks: its bytes so far, or (over the limit) only its prefix and length.
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let skipped: { prefix: Buffer; bytes: number } | undefined;

  const push = (line: string, problem?: LineProblem) => {
    if (lines.length === 0) firstOffset = lineNo;
    if (problem) (problems ??= new Map()).set(lines.length, problem);
    lines.push(line);
    lineNo++;
  };
  const pushBytes = (bytes: Buffer, total = bytes.length) => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR && total === bytes.length ? bytes.length - 1 : bytes.length;
    const body = bytes.subarray(0, end);
    const problem = lineProblem(body, limit, total === bytes.length ? end : total);
    push(problem ? '' : body.toString('utf8'), problem ?? undefined);
  };
  const batch = (): LineBatch => {
    const out: LineBatch = { source, firstOffset, lines, ...(problems ? { problems } : {}) };
    lines = [];
    problems = undefined;
    return out;
  };
  /** Bytes of the current line with no newline in them yet. */
  const extend = (part: Buffer) => {
    if (skipped) {
      skipped.bytes += part.length;
    } else if (carryBytes + part.length > limit) {
      skipped = { prefix: Buffer.concat([...carry, part]).subarray(0, RAW_PREFIX_BYTES), bytes: carryBytes + part.length };
      carry = [];
      carryBytes = 0;
    } else {
      carry.push(Buffer.from(part)); // a copy: the stream reuses nothing, but a view would pin the 1 MiB chunk
      carryBytes += part.length;
    }
  };
  /** The current line ends with `tail`. */
  const finish = (tail: Buffer) => {
    if (skipped) {
      pushBytes(skipped.prefix, skipped.bytes + tail.length);
      skipped = undefined;
    } else {
      pushBytes(carry.length === 0 ? tail : Buffer.concat([...carry, tail]));
    }
    carry = [];
    carryBytes = 0;
  };

  const span = options.span === undefined ? {} : { start: options.span.fromByte, end: options.span.toByte - 1 };
  // Nothing appended: createReadStream refuses an `end` before its `start`.
  if (options.span !== undefined && options.span.toByte <= options.span.fromByte) return;
  const bytes = OWN_STDIN.test(resolve(path)) ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20, ...span });
  for await (const chunk of bytes as AsyncIterable<Buffer>) {
    const last = chunk.lastIndexOf(NL);
    if (last === -1) {
      extend(chunk);
      continue;
    }
    let start = 0;
    if (carryBytes > 0 || skipped) {
      const first = chunk.indexOf(NL);
      finish(chunk.subarray(0, first));
      start = first + 1;
    }
    // [start, last] holds whole lines: decoded at once when it is all UTF-8 (the common case).
    const whole = chunk.subarray(start, last + 1);
    if (isUtf8(whole)) {
      const text = whole.toString('utf8');
      for (let from = 0, nl = text.indexOf('\n'); nl !== -1; from = nl + 1, nl = text.indexOf('\n', from)) {
        const line = text.charCodeAt(nl - 1) === CR && nl > from ? text.slice(from, nl - 1) : text.slice(from, nl);
        // Characters never outnumber bytes: only a long line needs its bytes counted.
        if (line.length * 3 > limit && Buffer.byteLength(line) > limit) pushBytes(Buffer.from(line));
        else push(line);
        if (lines.length >= batchLines) yield batch();
      }
    } else {
      for (let from = 0, nl = whole.indexOf(NL); nl !== -1; from = nl + 1, nl = whole.indexOf(NL, from)) {
        pushBytes(whole.subarray(from, nl));
        if (lines.length >= batchLines) yield batch();
      }
    }
    extend(chunk.subarray(last + 1));
    // A pipe (a live feed: `tail -f | produce --input /dev/stdin`, a FIFO) hands over what it has read:
    // waiting for a full batch held events for batchLines / rate (8 s at 1,000/s) before they were sent.
    if (lines.length >= batchLines || (live && lines.length > 0)) yield batch();
  }
  if (carryBytes > 0 || skipped) finish(Buffer.alloc(0));
  if (lines.length > 0) yield batch();
}

/**
 * A file that starts with gzip's or Parquet's magic bytes. Read as lines, its bytes were each a dead
 * letter "not UTF-8" (a Parquet file named by mistake, an archive's: 43 dead letters and a warning), and
 * the run ended with exit 0 and no event. (No JSON line starts with byte 0x1f, nor with "PAR1".)
 */
async function binaryKind(path: string): Promise<'gzip' | 'parquet' | undefined> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await file.read(head, 0, 4, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && head.toString('latin1') === 'PAR1') return 'parquet';
    return undefined;
  } finally {
    await file.close();
  }
}

/** Same batches from lines already in memory (the embedded log). */
export function* batchesOf(source: string, all: readonly string[], batchLines = 8192, startOffset = 0): Generator<LineBatch> {
  for (let i = 0; i < all.length; i += batchLines) {
    yield { source, firstOffset: startOffset + i, lines: all.slice(i, i + batchLines) };
  }
}

/** `batchesOf` as a source (what `runStream` and the archive take): the embedded log read like a file. */
export async function* memoryBatches(source: string, all: readonly string[], batchLines = 8192, startOffset = 0): AsyncGenerator<LineBatch> {
  yield* batchesOf(source, all, batchLines, startOffset);
}
