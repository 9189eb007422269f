import { allRows, api, failureTitle, retryDelay, topWindows } from './api.js';
import { definitionsNote, PALETTE, pointsOf, timeChart } from './charts.js';
import { clear, clipped, el, emptyState, fmt } from './dom.js';
import { aggregateLabel, valueLabel } from './aggregate-label.js';
import { totalLabel } from './totals.js';

// The live view: per windowed pipeline a chart of its top keys (or its one global series), per rule
// pipeline an alerts feed, and per pipeline its watermark, lag, late and dead-letter counts. It re-reads
// what changed when the live stream says so (debounced), without a reload.

const TOP = 10;
const COUNTING = new Set(['count', 'count_distinct', 'approx_distinct']);

/** The default span of a chart: 48 windows, at least 2 h, at most 24 h. */
const spanOf = (p) => Math.min(24 * 3600e3, Math.max(2 * 3600e3, 48 * p.window.size_ms));

/**
 * What a live card without a stream row says (`p` the pipeline, `s` its entry of /api/status). A rule that
 * raised no alert has no row either, yet the stream read its input: "no results yet" sent the user to run
 * what had run (found 2026-12-07 on a reconciled day). A pipeline no stream wrote whose days a backfill
 * recomputed has results, of those days only: "no results ... yet" denied them (found 2026-12-08).
 */
export function noResults(p, s) {
  if (!s?.watermark) {
    return s?.rows > 0 ? `no stream wrote this pipeline: its ${fmt.num(s.rows)} results are of days a backfill recomputed (the Day view shows them)` : 'no results of this pipeline in the store yet';
  }
  return p.kind === 'rule'
    ? `no alert: the stream reached ${fmt.time(s.watermark)} (its watermark) and the rule raised none`
    : `no window: the stream reached ${fmt.time(s.watermark)} (its watermark) and wrote none (did its filters keep no event?)`;
}

export function mountLive(root, shell) {
  let destroyed = false;
  let timer;
  let refreshing = Promise.resolve();
  const charts = new Map();
  const choice = new Map(); // pipeline -> { aggregate, span }
  let pipelines = [];
  let refreshes = 0;
  let busyStreak = 0; // refreshes in a row that met a busy (or unanswering) store

  const statsRow = el('section', { class: 'strip', 'data-testid': 'pipeline-stats' });
  const cards = el('section', { class: 'grid2' });
  const emptyBox = el('section', { hidden: true });
  const updated = el('div', { class: 'sub', 'data-testid': 'updated' }, 'loading…');
  root.append(el('section', {}, updated), emptyBox, statsRow, cards);

  async function start() {
    try {
      pipelines = (await api('/api/pipelines')).pipelines;
    } catch (error) {
      root.replaceChildren(emptyState(failureTitle(error), [[String(error.message)]]));
      return;
    }
    if (pipelines.length === 0) {
      root.replaceChildren(emptyState('No pipelines', [['The definitions file has no pipeline: write one (', el('code', {}, 'concord init'), ') and start ', el('code', {}, 'concord serve --definitions FILE'), '.']]));
      return;
    }
    for (const p of pipelines) cards.append(p.kind === 'windowed' ? chartCard(p) : alertsCard(p));
    await refresh();
  }

  function chartCard(p) {
    const agg = p.aggregates[0].name;
    choice.set(p.name, { aggregate: agg, span: spanOf(p) });
    const aggSelect = el('select', { 'aria-label': 'aggregate', onchange: (e) => { choice.get(p.name).aggregate = e.target.value; schedule(0); } },
      p.aggregates.map((a) => el('option', { value: a.name }, aggregateLabel(a))));
    const spanSelect = el('select', { 'aria-label': 'range', onchange: (e) => { choice.get(p.name).span = Number(e.target.value); schedule(0); } },
      [...new Set([3600e3, 2 * 3600e3, 4 * 3600e3, 6 * 3600e3, 24 * 3600e3, spanOf(p)])].sort((a, b) => a - b)
        .map((ms) => el('option', { value: ms, selected: ms === spanOf(p) }, `last ${ms / 3600e3} h`)));
    const what = p.key.length === 0 ? 'one global series' : `top ${TOP} ${p.key.join(', ')} by the table's total`;
    return el('article', { class: 'card', 'data-pipeline': p.name, 'data-testid': 'chart-card', 'aria-label': p.name },
      el('h2', {}, p.name),
      el('div', { class: 'sub' }, `${p.window.kind} ${p.window.size}${p.window.every ? ` every ${p.window.every}` : ''}${p.window.offset_ms ? ` at offset ${p.window.offset}` : ''} windows · ${what} · B ${p.max_out_of_orderness}, L ${p.allowed_lateness}`),
      el('div', { class: 'controls' }, aggSelect, spanSelect, el('span', { class: 'muted', 'data-role': 'range' })),
      problemLine(),
      el('div', { class: 'muted', 'data-testid': 'definition-note', hidden: true }),
      el('div', { class: 'chart', 'data-testid': 'chart' }),
      el('table', { 'data-testid': 'top-table' }));
  }

  function alertsCard(p) {
    return el('article', { class: 'card', 'data-pipeline': p.name, 'data-testid': 'alerts-card', 'aria-label': p.name },
      el('h2', {}, p.name),
      el('div', { class: 'sub' }, `alert when ${p.rule.measure}${p.rule.field ? ` ${p.rule.field}` : ''} per ${p.key.join(', ')} within ${p.rule.within} exceeds ${p.rule.more_than}`),
      problemLine(),
      el('div', { class: 'feed' }, el('table', { 'data-testid': 'alerts' })));
  }

  /** Where a card says it could not read (its description line stays as it is); hidden while reads succeed. */
  function problemLine() {
    return el('div', { class: 'error', 'data-role': 'problem', 'data-testid': 'card-problem', hidden: true });
  }

  function showProblem(card, text) {
    const line = card.querySelector('[data-role="problem"]');
    line.textContent = text ?? '';
    line.hidden = !text;
  }

  function schedule(ms = 1000) {
    if (destroyed) return;
    clearTimeout(timer);
    timer = setTimeout(() => { refreshing = refreshing.then(refresh, refresh); }, ms);
  }

  /**
   * A refresh met a store that could not answer (a DuckDB file a writer holds: 503, Retry-After: 1): try
   * again soon, not at the next 30 s tick, so the page catches up right after the writer is done.
   */
  function retrySoon(error) {
    busyStreak++;
    const ms = retryDelay(error, busyStreak);
    document.body.dataset.retryMs = String(ms);
    schedule(ms);
  }

  async function refresh() {
    if (destroyed) return;
    let status;
    try {
      status = await api('/api/status');
    } catch (error) {
      updated.textContent = `${failureTitle(error)}: ${error.message}`;
      retrySoon(error);
      return;
    }
    shell.store(`${status.store.backend} · ${status.store.location}`);
    if (status.store.status !== 'ok') {
      shell.banner(`The store does not answer (${status.store.status}): ${status.store.message ?? ''} Showing the last data.`);
      retrySoon(null);
      return;
    }
    shell.banner(null);
    emptyBox.hidden = !status.empty;
    statsRow.hidden = cards.hidden = status.empty;
    if (status.empty && status.other_pipelines) {
      // Results of other pipelines only: served with other definitions than the store was filled with.
      emptyBox.replaceChildren(emptyState('The store holds no results of these definitions', [[status.hint ?? '']]));
    } else if (status.empty) {
      emptyBox.replaceChildren(emptyState('The store has no results yet', [
        ['Fill it with a whole generated day: ', el('code', {}, 'concord demo'), ' (then ', el('code', {}, 'concord serve --store duckdb:.concord/demo/store.duckdb'), ').'],
        ['Or stream your own events: ', el('code', {}, 'concord stream --pipeline NAME --input events.jsonl --output out.jsonl --store URL'), ', or over Kafka ', el('code', {}, 'concord run'), ' + ', el('code', {}, 'concord sink'), '.'],
        ['This page updates by itself as results arrive.'],
      ]));
    }
    if (status.empty) {
      updated.textContent = `checked ${fmt.clock(status.server_time)} UTC`;
      schedule(5000);
      return;
    }
    let busy = null; // the first 503 of this refresh
    const dead = await api('/api/dead-letters').catch((error) => { if (error.status === 503) busy ??= error; return null; });
    renderStats(status, dead);
    for (const p of pipelines) {
      const s = status.pipelines.find((x) => x.pipeline === p.name);
      const card = cards.querySelector(`[data-pipeline="${CSS.escape(p.name)}"]`);
      if (!card) continue;
      if (!s?.newest) {
        card.querySelector('[data-testid="chart"], [data-testid="alerts"]')?.replaceChildren(el('p', { class: 'muted', 'data-testid': 'no-results' }, noResults(p, s)));
        continue;
      }
      try {
        if (p.kind === 'windowed') await renderChart(p, s, card);
        else await renderAlerts(p, card);
        showProblem(card, null);
      } catch (error) {
        if (error.status === 503) busy ??= error;
        showProblem(card, `could not read: ${error.message}${error.status === 503 ? ' (retrying)' : ''}`);
      }
    }
    if (busy) retrySoon(busy);
    else busyStreak = 0;
    refreshes++;
    updated.textContent = `updated ${fmt.clock(status.server_time)} UTC · ${document.body.dataset.liveEvents ?? 0} live events`;
    updated.dataset.refreshes = String(refreshes);
  }


  function renderStats(status, dead) {
    clear(statsRow);
    for (const s of status.pipelines) {
      const dl = dead?.pipelines?.find((x) => x.pipeline === s.pipeline)?.count;
      statsRow.append(el('div', { class: 'stat', 'data-testid': 'stat', 'data-pipeline': s.pipeline },
        el('div', { class: 'name' }, s.pipeline),
        el('dl', {},
          el('dt', {}, 'watermark'), el('dd', { 'data-field': 'watermark', 'data-value': s.watermark ?? '' }, fmt.time(s.watermark)),
          el('dt', {}, 'wall clock'), el('dd', { 'data-field': 'lag', 'data-value': s.lag_ms ?? '' }, fmt.lag(s.lag_ms)),
          el('dt', {}, 'newest'), el('dd', {}, fmt.time(s.newest)),
          el('dt', {}, 'late events'), el('dd', { 'data-field': 'late', 'data-value': s.late_events }, fmt.num(s.late_events)),
          el('dt', {}, 'dead letters'), el('dd', { 'data-field': 'dead-letters', 'data-value': dl ?? '' }, dl === null || dl === undefined ? '–' : fmt.num(dl)),
          // Results the stream wrote into a reconciled day wait for a backfill: the charts show the reconciled
          // version without them, while the watermark moves on (a chart that "stopped" said nothing of why).
          ...(s.dirty_cells > 0 ? [el('dt', {}, 'dirty cells'), el('dd', { 'data-field': 'dirty', 'data-value': s.dirty_cells, class: 'warn', title: 'windows the stream changed in a reconciled day: the charts show the reconciled version without them until `concord backfill --date D --archive DIR` (or the nightly job) recomputes them' }, `${fmt.num(s.dirty_cells)} (run concord backfill)`)] : []))));
    }
  }

  async function renderChart(p, s, card) {
    const { aggregate, span } = choice.get(p.name);
    const to = Date.parse(s.newest) + p.window.size_ms;
    const from = to - span;
    const range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    const rangeLabel = card.querySelector('[data-role="range"]');
    rangeLabel.textContent = `${fmt.time(range.from)} – ${fmt.time(range.to)}`;
    const chosen = p.aggregates.find((a) => a.name === aggregate);
    const fn = chosen?.fn;
    const total = totalLabel(p.window, p.aggregates, aggregate);
    const table = card.querySelector('[data-testid="top-table"]');
    let series, rowsOut, drawn;
    if (p.key.length === 0) {
      const rows = drawn = await allRows(`/api/pipelines/${encodeURIComponent(p.name)}/windows`, { ...range, limit: 5000 });
      const points = pointsOf(rows, aggregate);
      series = [{ label: aggregate, points }];
      const last = rows.at(-1);
      rowsOut = [{ key: {}, total: null, latest: last?.values?.[aggregate] ?? null, windows: rows.length }];
    } else {
      // One bounded request names the top keys and reads their windows (the keys never travel in the URL:
      // however long they are, the URL stays short).
      const { top, rows } = await topWindows(`/api/pipelines/${encodeURIComponent(p.name)}/windows`, { ...range, top: TOP, by: aggregate, rank: total.rank, limit: 5000 });
      drawn = rows;
      const keys = top.keys.map((k) => JSON.stringify(k.key));
      const byKey = new Map(keys.map((k) => [k, []]));
      for (const r of rows) byKey.get(JSON.stringify(r.key))?.push(r);
      series = top.keys.map((k) => ({ label: fmt.key(k.key), points: pointsOf(byKey.get(JSON.stringify(k.key)), aggregate) }));
      rowsOut = top.keys.map((k) => {
        const mine = byKey.get(JSON.stringify(k.key));
        return { key: k.key, total: k.total, latest: mine.at(-1)?.values?.[aggregate] ?? null, windows: k.windows };
      });
    }
    // Windows of another definition version in the range (the definition changed): said, not drawn silently as one series.
    const note = card.querySelector('[data-testid="definition-note"]');
    note.textContent = definitionsNote(drawn, p.definition_version) ?? '';
    note.hidden = note.textContent === '';
    const holder = card.querySelector('[data-testid="chart"]');
    charts.get(p.name)?.dispose();
    charts.set(p.name, timeChart(holder, series, { fill: p.key.length > 0 && COUNTING.has(fn) ? 0 : null, yLabel: chosen ? valueLabel(chosen, p.field_types) : aggregate }));
    clear(table).append(
      el('tr', {}, el('th', {}, ''), el('th', {}, p.key.length ? p.key.join(', ') : 'series'),
        el('th', { class: 'num', 'data-testid': 'total-header', title: p.key.length ? total.title : undefined }, p.key.length ? total.header : ''),
        el('th', { class: 'num', 'data-testid': 'latest-header', title: chosen ? valueLabel(chosen, p.field_types) : aggregate }, `newest window`), el('th', { class: 'num' }, 'windows')),
      ...rowsOut.map((r, i) => el('tr', { 'data-testid': 'top-row', 'data-key': JSON.stringify(r.key), 'data-total': r.total ?? '', 'data-latest': r.latest ?? '' },
        el('td', {}, el('span', { dataset: { color: PALETTE[i % PALETTE.length] } }, '■')),
        el('td', { class: 'key' }, clipped(fmt.key(r.key))), el('td', { class: 'num' }, r.total === null ? '' : fmt.num(r.total)),
        el('td', { class: 'num' }, fmt.num(r.latest)), el('td', { class: 'num' }, fmt.num(r.windows)))));
    for (const b of table.querySelectorAll('[data-color]')) b.style.color = b.dataset.color;
    Object.assign(table.dataset, range, { aggregate, rank: total.rank });
  }

  async function renderAlerts(p, card) {
    const page = await api(`/api/pipelines/${encodeURIComponent(p.name)}/alerts`, { order: 'desc', limit: 50 });
    const table = card.querySelector('[data-testid="alerts"]');
    const seen = new Set([...table.querySelectorAll('tr[data-id]')].map((r) => r.dataset.id));
    clear(table).append(el('tr', {}, el('th', {}, 'time (UTC)'), el('th', {}, p.key.join(', ')), el('th', {}, 'event'), el('th', {}, p.rule.output), el('th', {}, '')));
    for (const a of page.rows) table.append(alertRow(a, seen.size > 0 && !seen.has(a.id)));
    if (page.rows.length === 0) table.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'no alerts in the last 24 h of data')));
  }

  function alertRow(a, fresh) {
    return el('tr', { 'data-testid': 'alert-row', 'data-id': a.id, class: fresh ? 'new' : undefined },
      el('td', { class: 'time' }, fmt.time(a.ts)), el('td', { class: 'key' }, clipped(fmt.key(a.key))), el('td', { class: 'id' }, clipped(fmt.keyValue(a.id))),
      alertValueCell(a.value), el('td', {}, a.late ? el('span', { class: 'badge cause' }, 'late') : ''));
  }

  /**
   * An alert's measure: M, or the distinct values that crossed the threshold. A fraud rule's 12 countries
   * ran the row many lines tall and squeezed the other columns, and names with spaces ran together
   * ("Bosnia and Herzegovina Central African Republic"): one line, how many, each value apart (` · `, as
   * keys are), cut with an ellipsis, the whole list on hover.
   */
  function alertValueCell(value) {
    if (!Array.isArray(value)) return el('td', { 'data-field': 'value' }, fmt.num(value));
    const whole = value.map(fmt.keyValue).join(' · ');
    return el('td', { class: 'values', 'data-field': 'value', 'data-count': value.length },
      el('div', { class: 'clip', title: whole }, `(${value.length}) ${whole}`));
  }

  start();
  const periodic = setInterval(() => schedule(0), 30_000);
  return {
    onLive(type, data) {
      if (type === 'alert') {
        const table = cards.querySelector(`[data-pipeline="${CSS.escape(data.pipeline)}"] [data-testid="alerts"]`);
        if (table && !table.querySelector(`tr[data-id="${CSS.escape(data.id)}"]`)) table.firstChild?.after(alertRow(data, true));
      }
      // The store answers again (a writer let go of the DuckDB file): read what it wrote now.
      if (type === 'store') { if (data.status === 'ok') schedule(100); } else schedule();
    },
    destroy() {
      destroyed = true;
      clearTimeout(timer);
      clearInterval(periodic);
      for (const c of charts.values()) c.dispose();
    },
  };
}
