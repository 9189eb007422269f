/**
 * Progress on stderr: a redrawn bar on a terminal, plain lines (at most every 2 s) otherwise,
 * so logs of scripts and CI stay readable.
 */
export class Progress {
  private readonly label: string;
  private readonly total: number | undefined;
  /** What is counted ("lines read", "events"), said next to the count so it is not read as another number. */
  private readonly unit: string | undefined;
  private readonly tty: boolean;
  private readonly started = Date.now();
  /** The first line after one interval: a run shorter than that prints its final line only. */
  private lastDraw = this.started;
  /** What the last line said (count and detail): `done` does not say it again. */
  private lastDrawn: string | undefined;

  constructor(label: string, options?: number | { total?: number; unit?: string }) {
    this.label = label;
    const o = typeof options === 'number' ? { total: options } : (options ?? {});
    this.total = o.total;
    this.unit = o.unit;
    this.tty = process.stderr.isTTY === true;
  }

  update(done: number, detail = ''): void {
    const now = Date.now();
    if (now - this.lastDraw < (this.tty ? 100 : 2_000)) return;
    this.lastDraw = now;
    this.draw(done, detail);
  }

  done(done: number, detail = ''): void {
    // A plain line with the same numbers as the last one would be printed twice (archive's last batch).
    if (!this.tty && this.lastDrawn === `${done} ${detail}`) return;
    this.draw(done, detail);
    if (this.tty) process.stderr.write('\n');
  }

  private draw(done: number, detail: string): void {
    this.lastDrawn = `${done} ${detail}`;
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? ` (${Math.round(done / secs).toLocaleString('en-US')}/s)` : '';
    const unit = this.unit ? ` ${this.unit}` : '';
    const rest = detail ? `${this.unit ? ',' : ''} ${detail}` : '';
    let count: string;
    if (this.total) {
      const frac = Math.min(1, done / this.total);
      const width = 24;
      const bar = this.tty ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : '';
      count = `${bar}${(frac * 100).toFixed(0)}% ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')}`;
    } else {
      count = done.toLocaleString('en-US');
    }
    const text = `${this.label} ${count}${unit}${rate}${rest}`;
    process.stderr.write(this.tty ? `\r\x1b[K${text}` : `${text}\n`);
  }
}
