/**
 * Progress on stderr: a redrawn bar on a terminal, plain lines (at most every 2 s) otherwise,
 * so logs of scripts and CI stay readable.
 */
export class Progress {
  private readonly label: string;
  private readonly total: number | undefined;
  private readonly tty: boolean;
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(label: string, total?: number) {
    this.label = label;
    this.total = total;
    this.tty = process.stderr.isTTY === true;
  }

  update(done: number, detail = ''): void {
    const now = Date.now();
    if (now - this.lastDraw < (this.tty ? 100 : 2_000)) return;
    this.lastDraw = now;
    this.draw(done, detail);
  }

  done(done: number, detail = ''): void {
    this.draw(done, detail);
    if (this.tty) process.stderr.write('\n');
  }

  private draw(done: number, detail: string): void {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? `${Math.round(done / secs).toLocaleString('en-US')}/s` : '';
    let text: string;
    if (this.total) {
      const frac = Math.min(1, done / this.total);
      const width = 24;
      const bar = this.tty ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : '';
      text = `${this.label} ${bar}${(frac * 100).toFixed(0)}% ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} ${rate} ${detail}`;
    } else {
      text = `${this.label} ${done.toLocaleString('en-US')} ${rate} ${detail}`;
    }
    process.stderr.write(this.tty ? `\r\x1b[K${text}` : `${text}\n`);
  }
}
