/**
 * The day's input, generated as `concord produce` generates it and sent with `concord produce --input`
 * in slices while the faults land. Sent all at once, the input could be consumed before the plan's last
 * fault (seen in CI once the consumer got faster: no zombie, no broker stop); in slices, the stream phase
 * lasts as long as the plan and every fault meets work in progress. The topics hold the same records in
 * the same order per partition however the lines are sliced (a record's partition is its key's), so the
 * fault-free run and the faulty run read the same input.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { producedDay } from '../../generate/produced-day.ts';
import { runToEnd, type Logs } from './procs.ts';

export interface FeedDay {
  label: string;
  date: string;
  seed: number;
  clicks: number;
  transactions: number;
  logs: Logs;
}

/** What `concord produce --schema S --count N` would send, with the harness's malformed fraction. */
function generated(d: FeedDay, schema: 'clicks' | 'transactions'): readonly string[] {
  return producedDay({ schema, count: schema === 'clicks' ? d.clicks : d.transactions, date: d.date, seed: d.seed, invalidFraction: 0.001 }).lines;
}

export class InputFeed {
  private sent = 0;

  /** `slices` per schema: the first holds every transaction and the first part of the clicks. */
  private constructor(private readonly d: FeedDay, private readonly env: Record<string, string>, private readonly slices: { schema: string; file: string }[][]) {}

  static write(d: FeedDay, env: Record<string, string>, slices: number): InputFeed {
    const clicks = generated(d, 'clicks');
    const per = Math.ceil(clicks.length / slices);
    const file = (name: string, lines: readonly string[]) => {
      const path = join(d.logs.dir, `${d.label}-input-${name}.jsonl`);
      writeFileSync(path, `${lines.join('\n')}\n`);
      return path;
    };
    const out: { schema: string; file: string }[][] = [[{ schema: 'transactions', file: file('transactions', generated(d, 'transactions')) }]];
    for (let i = 0; i < slices; i++) {
      const part = clicks.slice(i * per, (i + 1) * per);
      if (part.length === 0) break;
      (out[i] ??= []).push({ schema: 'clicks', file: file(`clicks-${i}`, part) });
    }
    return new InputFeed(d, env, out);
  }

  /** Every slice sent. */
  get done(): boolean {
    return this.sent === this.slices.length;
  }

  /** Sends the next slice, if any is left. */
  async sendNext(): Promise<void> {
    const slice = this.slices[this.sent];
    if (!slice) return;
    for (const { schema, file } of slice) {
      const r = await runToEnd(`${this.d.label}-produce`, ['produce', '--schema', schema, '--input', file], this.env, this.d.logs);
      if (r.code !== 0) throw new Error(`${this.d.label}: concord produce --schema ${schema} --input ${file} exited ${r.code}:\n${r.output.slice(-2000)}`);
    }
    this.sent++;
  }

  async sendRest(): Promise<void> {
    while (!this.done) await this.sendNext();
  }
}
