// Time-series charts with uPlot (loaded as the global `uPlot` by index.html): x in UTC.

export const PALETTE = ['#3559e0', '#e8590c', '#2f9e44', '#c2255c', '#7048e8', '#0c8599', '#f08c00', '#5c940d', '#862e9c', '#495057', '#1971c2', '#d6336c'];

/**
 * A chart of several series over shared timestamps. `series`: [{ label, points: Map<ms, number|null> }].
 * `fill`: the value of a missing point (0 for counts; null leaves a gap). Returns the uPlot instance; the
 * container carries data-series and data-points (non-null points drawn) for tests.
 */
export function timeChart(container, series, { height = 260, fill = null } = {}) {
  const xs = [...new Set(series.flatMap((s) => [...s.points.keys()]))].sort((a, b) => a - b);
  const columns = series.map((s) => xs.map((x) => (s.points.has(x) ? s.points.get(x) : fill)));
  const data = [xs.map((x) => x / 1000), ...columns];
  const width = Math.max(320, container.clientWidth || 640);
  const opts = {
    width, height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    fmtDate: (tpl) => uPlot.fmtDate(tpl.replace(/\{h\}/g, '{HH}').replace(/\{aa?\}/g, '')),
    scales: { x: { time: true } },
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    series: [{ label: 'time (UTC)' }, ...series.map((s, i) => ({ label: s.label, stroke: s.color ?? PALETTE[i % PALETTE.length], width: 1.5, dash: s.dash, points: { show: xs.length <= 60 } }))],
    axes: [{ stroke: '#667085', grid: { stroke: '#eef0f3' } }, { stroke: '#667085', size: 56, grid: { stroke: '#eef0f3' } }],
  };
  container.replaceChildren();
  const plot = new uPlot(opts, data, container);
  container.dataset.series = String(series.length);
  container.dataset.points = String(columns.reduce((n, col) => n + col.filter((v) => v !== null && v !== undefined).length, 0));
  container.dataset.first = xs.length ? new Date(xs[0]).toISOString() : '';
  container.dataset.last = xs.length ? new Date(xs[xs.length - 1]).toISOString() : '';
  const resize = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w > 0 && Math.abs(w - plot.width) > 8) plot.setSize({ width: w, height });
  });
  resize.observe(container);
  plot.dispose = () => { resize.disconnect(); plot.destroy(); };
  return plot;
}

/** Points of one key's rows: window start (ms) -> the aggregate's value. */
export function pointsOf(rows, aggregate) {
  const m = new Map();
  for (const r of rows) {
    const v = r.values?.[aggregate];
    m.set(Date.parse(r.window_start), typeof v === 'number' ? v : null);
  }
  return m;
}
