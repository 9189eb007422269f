/** One benchmark figure: Concord's time next to the peer's, on the same data in the same run. */
export interface Figure {
  metric: string;
  events: number;
  seconds: number;
  peer?: string;
  peerSeconds?: number;
  target: string;
  /** Extra columns (e.g. bytes, error). */
  note?: string;
}

/** Best of `rounds` runs after one warm-up (JIT, caches), in seconds. */
export async function best(rounds: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  await fn();
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, (performance.now() - t) / 1000);
  }
  return min;
}

const rate = (n: number, s: number) => (s > 0 ? `${(n / s / 1e6).toFixed(2)}M/s` : '-');

export function figuresMarkdown(figures: readonly Figure[]): string {
  const rows = figures.map((f) => {
    const ratio = f.peerSeconds !== undefined ? (f.peerSeconds / f.seconds).toFixed(2) + 'x' : '-';
    return `| ${f.metric} | ${f.events.toLocaleString('en-US')} | ${f.seconds.toFixed(3)} s (${rate(f.events, f.seconds)}) | ${f.peer ?? '-'} | ${f.peerSeconds !== undefined ? `${f.peerSeconds.toFixed(3)} s (${rate(f.events, f.peerSeconds)})` : '-'} | ${ratio} | ${f.target} | ${f.note ?? ''} |`;
  });
  return ['| metric | events | Concord | peer | peer time | ratio (peer time / Concord time) | target | note |', '|---|---:|---:|---|---:|---:|---|---|', ...rows].join('\n');
}
