import type { SeededRandom } from './random.ts';

/**
 * What both topic generators share to turn events into JSON lines: the ts forms, money, malformed lines and
 * which events get them, the line buffer, and the per-topic stats they count.
 */

export interface TopicStats {
  /** Lines generated, malformed ones included. */
  lines: number;
  /** Events delayed by less than B. */
  outOfOrder: number;
  /** Events delayed beyond B + L. */
  late: number;
  /** Malformed or schema-violating lines. */
  invalid: number;
  /** Valid lines whose ts is an ISO-8601 string (the rest are epoch ms). */
  isoTimestamps: number;
}

export const OFFSETS = ['+01:00', '+02:00', '-05:00', '+05:30', '-0300', '+09:00'];

export function isoZ(ts: number): string {
  return new Date(ts).toISOString();
}

/** The same instant written in a local time with an offset, e.g. 2026-11-23T15:30:00.000+05:30. */
export function isoWithOffset(ts: number, offset: string): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const minutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  return new Date(ts + minutes * 60_000).toISOString().slice(0, 23) + offset;
}

/** Integer minor units as a JSON number with exactly 2 decimals. */
export function money(cents: number): string {
  const c = cents % 100;
  return `${(cents - c) / 100}.${c < 10 ? '0' : ''}${c}`;
}

/** A line that fails JSON parsing or schema validation, shaped like a real event of the topic. */
export function invalidLine(topic: 'clicks' | 'transactions', id: string, ts: number, random: SeededRandom): string {
  const base = topic === 'clicks'
    ? { event_id: id, ts, url: '/cart', visitor_id: `v-${random.int(0, 999)}` }
    : { txn_id: id, ts, user_id: `u-${random.int(0, 999)}`, country: 'FR', amount: 12.5 };
  const json = (o: unknown) => JSON.stringify(o);
  const required = topic === 'clicks' ? 'visitor_id' : 'user_id';
  switch (random.int(0, 8)) {
    case 0: { // truncated (a writer died mid-line)
      const full = json(base);
      return full.slice(0, random.int(1, full.length - 1));
    }
    case 1: { // a required field missing
      const { [required]: _dropped, ...rest } = base as Record<string, unknown>;
      return json(rest);
    }
    case 2: // wrong type: numeric id
      return json({ ...base, [topic === 'clicks' ? 'event_id' : 'txn_id']: Number(id.replace(/\D/g, '')) });
    case 3: // unparsable ts
      return json({ ...base, ts: 'next tuesday' });
    case 4: // ISO ts without a zone: ambiguous, rejected
      return json({ ...base, ts: isoZ(ts).slice(0, 19) });
    case 5: // fractional epoch ms
      return json({ ...base, ts: ts + 0.5 });
    case 6: // empty required string, or an amount with 3 decimals
      return topic === 'clicks' ? json({ ...base, visitor_id: '' }) : json({ ...base, amount: '12.345' });
    case 7: // not an object
      return random.chance(0.5) ? json([base]) : json(`${id} ${ts}`);
    default: // a producer that wrote its language's dict syntax instead of JSON
      return json(base).replaceAll('"', "'");
  }
}

/**
 * Collects lines in arrival order. Lines are appended to one text per few thousand lines, which is
 * then split: each line is a slice of a large flat string, never a chain of concatenated fragments,
 * so the garbage collector moves a few small objects per line and consumers never flatten them
 * (measured: 15-25% faster in all than keeping each line's own concatenation, at 1M clicks).
 */
export class LineBuffer {
  readonly lines: string[] = [];
  private text = '';
  private count = 0;

  push(line: string): void {
    this.text += line;
    this.text += '\n';
    if (++this.count === 4096) this.flush();
  }

  finish(): string[] {
    this.flush();
    return this.lines;
  }

  private flush(): void {
    if (this.count === 0) return;
    const lines = this.text.split('\n');
    if (lines.length !== this.count + 1) throw new Error(`internal: a generated line contains a newline`);
    for (let i = 0; i < this.count; i++) this.lines.push(lines[i]!);
    this.text = '';
    this.count = 0;
  }
}

/**
 * A topic's lines in arrival order: the k-th line is the event at time rank `order[k]`, written by
 * `line(i, rank, ts)` (i: its index in the generated arrays), or a malformed line (counted in
 * `stats.invalid`) where `invalid` marks its rank. Both take their random fields from `fields`, in
 * arrival order.
 */
export function arrivalLines(
  topic: 'clicks' | 'transactions', order: Int32Array, time: { byTime: Int32Array; sortedOffsets: Float64Array }, dayStart: number,
  invalid: Uint8Array | undefined, fields: SeededRandom, stats: TopicStats, line: (i: number, rank: number, ts: number) => string,
): string[] {
  const { byTime, sortedOffsets } = time;
  const prefix = topic === 'clicks' ? 'c-' : 't-';
  const out = new LineBuffer();
  for (let k = 0; k < order.length; k++) {
    const rank = order[k]!;
    const ts = dayStart + sortedOffsets[rank]!;
    if (invalid?.[rank] === 1) {
      out.push(invalidLine(topic, `${prefix}${rank}`, ts, fields));
      stats.invalid++;
    } else {
      out.push(line(byTime[rank]!, rank, ts));
    }
  }
  return out.finish();
}

/** Which time ranks become malformed lines (undefined when none are asked for). */
export function invalidMask(n: number, random: SeededRandom, fraction: number): Uint8Array | undefined {
  if (fraction <= 0) return undefined;
  const mask = new Uint8Array(n);
  for (let j = 0; j < n; j++) mask[j] = random.next() < fraction ? 1 : 0;
  return mask;
}

export function emptyTopicStats(lines: number): TopicStats {
  return { lines, outOfOrder: 0, late: 0, invalid: 0, isoTimestamps: 0 };
}
