import { formatNumber } from './numbers.js';

// Time-series charts with uPlot (loaded as the global `uPlot` by index.html): x in UTC.

export const PALETTE = ['#3559e0', '#e8590c', '#2f9e44', '#c2255c', '#7048e8', '#0c8599', '#f08c00', '#5c940d', '#862e9c', '#495057', '#1971c2', '#d6336c'];

/**
 * A chart of several series over shared timestamps. `series`: [{ label, points: Map<ms, number|null> }].
 * `fill`: the value of a missing point (0 for counts; null leaves a gap). Returns the uPlot instance; the
 * container carries data-series, data-points (non-null points drawn), data-y-ticks (the y axis' labels) and
 * data-y-label for tests. `yLabel`: what the values are (aggregate-label.js valueLabel), written along the y axis.
 */
export function timeChart(container, series, { height = 260, fill = null, yLabel = '' } = {}) {
  const xs = [...new Set(series.flatMap((s) => [...s.points.keys()]))].sort((a, b) => a - b);
  const columns = series.map((s) => xs.map((x) => (s.points.has(x) ? s.points.get(x) : fill)));
  // uPlot finds no tick step beyond about 1e±16 (no label at all on the y axis): values that large or
  // that small are drawn divided by a power of ten, and the labels say the real values.
  const unit = unitOf(columns);
  const data = [xs.map((x) => x / 1000), ...(unit === 1 ? columns : columns.map((col) => col.map((v) => (typeof v === 'number' ? v / unit : v))))];
  const width = Math.max(320, container.clientWidth || 640);
  const opts = {
    width, height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    // 24-hour times and ISO dates (the tables' form), not uPlot's default 8am and 11/23/26.
    fmtDate: (tpl) => uPlot.fmtDate(isoDateTemplate(tpl)),
    scales: { x: { time: true } },
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    series: [{ label: 'time (UTC)' }, ...series.map((s, i) => ({ label: s.label, stroke: s.color ?? PALETTE[i % PALETTE.length], width: 1.5, dash: s.dash, points: { show: xs.length <= 60 } }))],
    // The x axis says its zone: the page's times are all UTC, whatever the reader's zone is.
    axes: [{ stroke: '#667085', grid: { stroke: '#eef0f3' }, label: 'time (UTC)', labelSize: 18, labelFont: '12px system-ui, sans-serif' }, {
      stroke: '#667085', grid: { stroke: '#eef0f3' },
      ...(yLabel ? { label: yLabel, labelSize: 18, labelFont: '12px system-ui, sans-serif' } : {}),
      // The page's number format (never 0 for a value that is not, exponents for huge ones).
      values: (u, ticks) => {
        const labels = ticks.map((v) => formatNumber(unit === 1 ? v : v * unit));
        container.dataset.yTicks = JSON.stringify(labels); // the labels drawn on the canvas, for tests
        return labels;
      },
      size: (u, values) => Math.max(40, 24 + 8 * Math.max(0, ...(values ?? []).map((v) => String(v).length))),
    }],
  };
  container.replaceChildren();
  const plot = new uPlot(opts, data, container);
  container.dataset.series = String(series.length);
  container.dataset.xLabel = opts.axes[0].label;
  container.dataset.yLabel = yLabel;
  container.title = yLabel; // the whole label, when the axis is too short for it
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

/** A uPlot date template with 24-hour times and ISO dates: `{h}:{mm}{aa}` -> `{HH}:{mm}`, `{M}/{D}/{YY}` -> `{YYYY}-{MM}-{DD}`. */
export function isoDateTemplate(tpl) {
  return tpl.replace(/\{h\}/g, '{HH}').replace(/\{aa?\}/g, '')
    .replace(/\{M\}\/\{D\}\/\{YY\}/g, '{YYYY}-{MM}-{DD}').replace(/\{M\}\/\{D\}/g, '{MM}-{DD}');
}

/** 1, or the power of ten the y values are divided by when their largest magnitude is at least 1e12 or below 1e-9. */
export function unitOf(columns) {
  let top = 0;
  for (const col of columns) for (const v of col) if (typeof v === 'number' && Number.isFinite(v)) top = Math.max(top, Math.abs(v));
  if (top === 0 || (top < 1e12 && top >= 1e-9)) return 1;
  return 10 ** Math.floor(Math.log10(top));
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

/**
 * The card's sentence when some of a range's windows were computed by another definition version than
 * the loaded one (`current`): the definition changed within the range (another window size, a renamed
 * aggregate), so the series and the totals mix two definitions. Null when the loaded one made them all.
 */
export function definitionsNote(rows, current) {
  const counts = new Map();
  for (const r of rows) counts.set(r.definition_version, (counts.get(r.definition_version) ?? 0) + 1);
  const others = [...counts].filter(([v]) => v !== current);
  if (others.length === 0) return null;
  const n = others.reduce((a, [, k]) => a + k, 0);
  const which = `computed by another definition version (${others.map(([v]) => v).join(', ')}; the loaded definitions give ${current})`;
  return n === rows.length
    ? `All ${n} windows here were ${which}: the definition changed since`
    : `${n} of ${rows.length} windows here were ${which}: the definition changed within the range, so values before and after it are not comparable`;
}
