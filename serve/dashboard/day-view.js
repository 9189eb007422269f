import { allRows, api, failureTitle, retryDelay } from './api.js';
import { pointsOf, timeChart } from './charts.js';
import { clear, clipped, el, emptyState, fmt } from './dom.js';
import { valueLabel } from './aggregate-label.js';
import { daySides, hasRealtime } from './day-sides.js';

// The day view: for a date, per pipeline its status and version history, the reconciliation's
// headline numbers and causes, realtime next to batch (a chart for a global series), and every
// differing cell with its cause and the late events behind it.

const PAGE = 25;

/** A word a POSIX shell reads as itself: plain as it is, else single-quoted. */
function shellWord(s) {
  return /^[\w.:@%+=,/-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/** YYYY-MM-DD of a day the calendar has. */
function isCalendarDay(d) {
  const t = Date.parse(`${d}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(d) && Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === d;
}

/** Whether the pipeline's stream is behind the day's start (`stream_reached` false), as far as it wrote a watermark. */
function notReached(p) {
  return p.stream_reached === false && p.watermark !== null;
}

export function mountDay(root, shell, date) {
  let destroyed = false;
  const charts = [];
  const head = el('section', { class: 'card' }, el('h2', {}, 'Day'), el('div', { class: 'sub' }, 'loading…'));
  const body = el('section', { class: 'stack' });
  root.append(head, body);

  async function start() {
    let days;
    try {
      days = await api('/api/days');
    } catch (error) {
      if (error.status === 503) throw error; // a busy store: said in the head card, tried again soon
      root.replaceChildren(emptyState(failureTitle(error), [[String(error.message)]]));
      return;
    }
    if (days.days.length === 0) {
      noDays = true;
      root.replaceChildren(emptyState('No day has results yet', [
        ['Fill the store with a whole generated and reconciled day: ', el('code', {}, 'concord demo'), '.'],
        ['Or stream results (', el('code', {}, 'concord stream --store URL'), ', ', el('code', {}, 'concord run'), ' + ', el('code', {}, 'concord sink'),
          ') and reconcile a day: ', el('code', {}, 'concord reconcile --date YYYY-MM-DD --archive DIR'), '.'],
      ]));
      return;
    }
    if (noDays) { noDays = false; root.replaceChildren(head, body); }
    const dates = days.days.map((d) => d.date);
    const chosen = date ?? dates[0];
    // A date of the address that is no calendar day (2026-02-30) is read (the API says what is wrong) but
    // not offered: the picker lists real days only, with a placeholder while none of them is shown.
    const options = [...new Set([...(isCalendarDay(chosen) ? [chosen] : []), ...dates])];
    const picker = el('select', { 'aria-label': 'date', 'data-testid': 'date-picker', onchange: (e) => { location.hash = `#/day/${e.target.value}`; } },
      ...(options.includes(chosen) ? [] : [el('option', { value: '', disabled: true, selected: true }, 'choose a day')]),
      options.map((d) => el('option', { value: d, selected: d === chosen }, d)));
    head.replaceChildren(el('h2', {}, `Day ${chosen}`), el('div', { class: 'controls' }, 'date ', picker,
      el('span', { class: 'muted' }, 'realtime (what the stream showed) next to batch (the replay of the complete archive, published as a new version)')));
    await render(chosen);
  }

  let noDays = false; // the store had no day: the page says what to run, and reads again when results arrive
  let chosenDay;
  let draws = [];
  let renders = 0;
  async function render(day) {
    chosenDay = day;
    // A reload while this render awaits starts another: this one stops at its next await (it appended
    // its cards after the other's, so the page showed a card twice).
    const mine = ++renders;
    const stale = () => destroyed || mine !== renders;
    head.querySelector('[data-testid="day-error"]')?.remove();
    const info = await api(`/api/days/${day}`);
    if (stale()) return;
    for (const p of info.pipelines) {
      let card;
      try {
        card = await pipelineCard(day, p);
      } catch (error) {
        // A busy store fails every card alike: the day is read again soon (fail). Any other error is this
        // pipeline's: said in its card, the other pipelines still shown (one 500 blanked the whole day).
        if (error?.status === 503) throw error;
        draws.length = 0;
        card = failedCard(p, error);
      }
      if (stale()) return;
      body.append(card);
      for (const draw of draws.splice(0)) draw();
    }
    body.dataset.ready = 'true';
  }

  async function pipelineCard(day, p) {
    const card = el('article', { class: 'card', 'data-testid': 'day-card', 'data-pipeline': p.pipeline, 'aria-label': p.pipeline },
      el('h2', {}, p.pipeline, ' ', el('span', { class: `badge ${p.status}`, 'data-testid': 'day-status' }, p.status),
        ...(p.empty ? [' ', el('span', { class: 'badge empty', 'data-testid': 'day-empty' }, 'no data')] : [])),
      // Version 0 live after a reconciliation that published nothing (or a revert) is not "not reconciled".
      el('div', { class: 'sub', 'data-testid': 'day-sub' }, `live version ${p.live_version}${p.live_version === 0 ? (p.reconciliation ? ' (realtime)' : ' (realtime, not reconciled)') : ''} · watermark ${fmt.time(p.watermark)} · ` +
        `${fmt.num(p.late_events)} late events · ${fmt.num(p.dirty_cells)} dirty cells`));
    const rec = p.reconciliation;
    if (rec) {
      card.append(outcomeLine(day, p, rec));
      card.append(el('div', { class: 'metrics', 'data-testid': 'rec-metrics' },
        ...[['cells', rec.cells, fmt.num], ['equal', rec.equal, fmt.num], ['different', rec.different, fmt.num], ['mismatch rate', rec.mismatch_rate, fmt.pct],
          ['SMAPE', rec.smape, fmt.pct], ['unexplained', rec.unexplained, fmt.num]]
          .map(([label, v, f]) => el('div', { 'data-metric': label, 'data-value': v }, el('b', {}, f(v)), label))));
      const causes = Object.entries(rec.causes).filter(([, n]) => n > 0);
      card.append(el('h3', {}, 'causes'), causes.length === 0 ? el('div', { class: 'muted' }, 'no differences') :
        el('table', { 'data-testid': 'causes' }, ...causes.map(([c, n]) => el('tr', { 'data-testid': 'cause-row', 'data-cause': c, 'data-count': n }, el('td', {}, el('span', { class: 'badge cause' }, c)), el('td', { class: 'num' }, fmt.num(n))))));
    } else if (p.empty) {
      card.append(el('p', { class: 'muted', 'data-testid': 'no-data' }, `Nothing stored for ${day}: no results, late events or reconciliation${notReached(p) ? `; the stream has not reached the day yet (its watermark is at ${fmt.time(p.watermark)})` : ''}.`));
    } else if (p.live_version > 0) {
      // A version a backfill recomputed from the archive (`backfill --from/--to`): no reconciliation compared
      // it with the stream, and there is none to run when the stream never wrote the day (reconcile refuses
      // a day without stream rows). The page said "Not reconciled yet: run concord reconcile".
      card.append(el('p', { class: 'muted', 'data-testid': 'recomputed' }, `Version ${p.live_version} is live: recomputed from the archive by a backfill, not compared with the stream by a reconciliation` +
        (hasRealtime(p) ? '.' : notReached(p) ? `; the stream has not reached ${day} yet (its watermark is at ${fmt.time(p.watermark)}): no realtime version.`
          : `; the stream never wrote ${day}, so it has no realtime version.`)));
    } else {
      card.append(el('p', { class: 'muted', 'data-testid': 'not-reconciled' }, ...(notReached(p) ? [`The stream has not reached ${day} yet (its watermark is at ${fmt.time(p.watermark)}): its numbers are early and partial. Once the day is over, `] : ['Not reconciled yet: ']),
        'run ', el('code', {}, `concord reconcile --date ${day} --archive DIR`), ' (or ', el('code', {}, `concord jobs enqueue --date ${day}`), ').'));
    }
    card.append(el('h3', {}, 'versions'), versionsTable(p.versions));
    const kind = await pipelineKind(p.pipeline);
    if (kind?.kind === 'windowed' && kind.key.length === 0) card.append(el('h3', {}, 'realtime and batch'), await sideBySideChart(day, p, kind));
    if (rec) {
      const table = el('table', { 'data-testid': 'differences' },
        el('tr', {}, el('th', {}, 'cell'), el('th', {}, 'realtime'), el('th', {}, 'batch'), el('th', {}, 'cause'), el('th', {}, 'late events (id, event time, watermark met)')));
      const more = el('button', { hidden: true }, 'more');
      card.append(el('h3', {}, `differing cells (${fmt.num(rec.different)})`), rec.different === 0 ? el('div', { class: 'muted' }, 'realtime and batch agree on every cell') : el('div', { class: 'feed' }, table, more));
      let cursor;
      // The cell's time: a window's start, a rule's alert time (`ts`); shown in the page's short form.
      const timeField = kind?.kind === 'rule' ? 'ts' : 'window_start';
      const load = async () => {
        const page = await api(`/api/days/${day}/pipelines/${encodeURIComponent(p.pipeline)}/report`, { limit: PAGE, cursor });
        for (const d of page.differences) table.append(differenceRow(d, timeField));
        cursor = page.next_cursor;
        more.hidden = !cursor;
      };
      more.addEventListener('click', () => {
        load().catch((error) => { more.after(el('p', { class: 'error', role: 'alert' }, `could not read more differences: ${String(error?.message ?? error)}`)); });
      });
      await load();
    }
    return card;
  }

  /**
   * What the newest reconciliation did: the version it published, or, when differences had no explanation,
   * that it published nothing (the day's numbers stay the stream's) and what to do. The page showed a
   * failed one's numbers and causes only, as if it had corrected the day.
   */
  function outcomeLine(day, p, rec) {
    const attrs = { 'data-testid': 'rec-outcome', 'data-status': rec.status };
    if (rec.status === 'failed_unexplained') {
      return el('p', { ...attrs, class: 'error' },
        `The reconciliation of ${fmt.time(rec.reconciled_at)} published nothing: ${fmt.num(rec.unexplained)} of ${fmt.num(rec.different)} differences are unexplained, ` +
        `so version ${p.live_version}${p.live_version === 0 ? ' (realtime)' : ''} stays live. Read the cells with cause "unexplained" and fix their cause, or publish the replay anyway: `,
        el('code', {}, `concord reconcile --date ${day} --pipeline ${shellWord(p.pipeline)} --archive DIR --force`), '.');
    }
    const replaced = rec.previous_version !== null && rec.previous_version !== rec.version ? ` (replacing version ${rec.previous_version})` : '';
    const now = rec.version !== p.live_version ? `; version ${p.live_version} is live now` : '';
    // A later run that found the version still holding its replay (the API shows the publishing run's record).
    const again = rec.rechecked ? `; reconciled again ${fmt.time(rec.rechecked.reconciled_at)}: nothing changed` : '';
    const what = rec.status === 'unchanged' ? `version ${rec.version}, live, already held its replay` : `published version ${rec.version}${replaced}`;
    return el('p', { ...attrs, class: 'muted' }, `Reconciled ${fmt.time(rec.reconciled_at)}: ${what}${now}${again}.`);
  }

  /** A pipeline's card whose reads failed: its name and the API's error, in place of its numbers. */
  function failedCard(p, error) {
    const hint = error?.body?.hint;
    return el('article', { class: 'card', 'data-testid': 'day-card', 'data-pipeline': p.pipeline, 'aria-label': p.pipeline },
      el('h2', {}, p.pipeline, ' ', el('span', { class: `badge ${p.status}`, 'data-testid': 'day-status' }, p.status)),
      el('p', { class: 'error', role: 'alert', 'data-testid': 'card-problem' }, `could not read ${p.pipeline}: ${String(error?.message ?? error)}`, hint ? ` (${hint})` : null));
  }

  const kinds = api('/api/pipelines').then((x) => x.pipelines).catch(() => []);
  async function pipelineKind(name) {
    return (await kinds).find((p) => p.name === name);
  }

  function versionsTable(versions) {
    return el('table', { 'data-testid': 'versions' },
      el('tr', {}, el('th', {}, 'version'), el('th', {}, 'kind'), el('th', {}, 'status'), el('th', {}, 'definition'), el('th', {}, 'published'), el('th', {}, 'live since'), el('th', {}, 'job')),
      ...versions.map((v) => el('tr', { class: v.live ? 'live' : undefined, 'data-testid': 'version-row', 'data-version': v.version, 'data-live': String(v.live) },
        el('td', {}, String(v.version)), el('td', {}, v.kind), el('td', {}, v.live ? 'live' : v.status),
        // Which definition computed the version's rows (two: a day streamed under a changed definition).
        el('td', { 'data-field': 'definition' }, Object.keys(v.definition_versions ?? {}).join(' + ') || '—'), el('td', {}, fmt.time(v.created_at)),
        // The job id names the pipeline: cut to what the other columns leave (a long name squeezed them to a letter a line).
        el('td', {}, fmt.time(v.live_since)), el('td', { class: 'key', 'data-field': 'job' }, clipped(v.job_id ?? '')))));
  }

  async function sideBySideChart(day, p, def) {
    const agg = def.aggregates[0].name;
    const path = `/api/pipelines/${encodeURIComponent(p.pipeline)}/windows`;
    // Only the versions the day has are read and drawn (a backfilled day has no version 0; a day no
    // reconciliation corrected has no batch version).
    const sides = daySides(day, p);
    const read = (on, version) => (on ? allRows(path, { date: day, version, limit: 5000 }) : []);
    const [realtime, batch] = await Promise.all([read(sides.realtime, 'realtime'), read(sides.batch, 'live')]);
    // A day without windows on either side: said, not a blank chart the height of one.
    if (realtime.length === 0 && batch.length === 0) return el('p', { class: 'muted', 'data-testid': 'day-chart-empty' }, `no windows of ${day} in either version`);
    const holder = el('div', { class: 'chart', 'data-testid': 'day-chart' });
    const series = [], legend = el('div', { class: 'legend', 'data-testid': 'day-chart-legend' });
    if (sides.realtime) {
      series.push({ label: `realtime ${agg}`, points: pointsOf(realtime, agg), color: '#e8590c' });
      legend.append(el('span', { class: 'swatch realtime' }, '━'), ` realtime ${agg} (version 0${p.live_version === 0 ? ', live' : ''})   `);
    }
    if (sides.batch) {
      series.push({ label: `batch ${agg} (version ${p.live_version})`, points: pointsOf(batch, agg), color: '#3559e0', dash: [4, 3] });
      legend.append(el('span', { class: 'swatch batch' }, '┅'), ` batch ${agg} (version ${p.live_version}, live)`);
    }
    if (sides.missing) legend.append(el('div', { class: 'muted', 'data-testid': 'day-chart-missing' }, sides.missing));
    if (sides.definitions) legend.append(el('div', { class: 'muted', 'data-testid': 'day-chart-definitions' }, sides.definitions));
    draws.push(() => charts.push(timeChart(holder, series, { height: 220, yLabel: valueLabel(def.aggregates[0], def.field_types) })));
    return el('div', {}, holder, legend);
  }

  function differenceRow(d, timeField) {
    const cell = Object.entries(d.cell).filter(([k]) => k !== 'window_end').map(([k, v]) => (k === timeField ? fmt.time(v) : `${k} ${fmt.keyValue(v)}`)).join(' · ');
    const values = (x) => (x ? fmt.values(Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'revision'))) : '—');
    return el('tr', { class: 'diff', 'data-testid': 'difference-row', 'data-cell': JSON.stringify(d.cell), 'data-cause': d.cause },
      el('td', { class: 'key', 'data-testid': 'cell' }, clipped(cell)), el('td', { 'data-side': 'realtime' }, values(d.realtime)), el('td', { 'data-side': 'batch' }, values(d.replay)),
      el('td', {}, el('span', { class: 'badge cause' }, d.cause)),
      el('td', { 'data-testid': 'late-events' }, d.late_events.length === 0 ? '' :
        el('ul', {}, d.late_events.slice(0, 5).map((e) => el('li', { 'data-id': e.id }, clipped(fmt.keyValue(e.id), 'span'), ` @ ${fmt.time(e.ts)}, met W ${fmt.time(e.watermark)}`)),
          d.late_events.length > 5 ? el('li', { class: 'muted' }, `and ${d.late_events.length - 5} more`) : null)));
  }

  // An error of the API (a 400 for a date that does not exist, a 503 of a busy store) is said in the head
  // card, which is always there (start() replaces its description line with the date picker).
  let again;
  let failed = false;
  let busyStreak = 0;
  /** Reads the day again from the start (its cards cleared): after a new version, or a store that answers again. */
  function reload(ms) {
    clearTimeout(again);
    again = setTimeout(() => {
      if (destroyed) return;
      failed = false;
      for (const c of charts.splice(0)) c.dispose();
      delete body.dataset.ready;
      clear(body);
      (chosenDay ? render(chosenDay) : start()).then(() => { busyStreak = 0; }, fail);
    }, ms);
  }
  const fail = (error) => {
    if (destroyed) return;
    failed = true;
    // A store a writer holds (503, Retry-After): try again soon, not never.
    if (error?.status === 503) reload(retryDelay(error, ++busyStreak));
    head.querySelector('[data-testid="day-error"]')?.remove();
    const hint = error?.body?.hint;
    head.append(el('p', { class: 'error', role: 'alert', 'data-testid': 'day-error', 'data-status': error?.status },
      `could not read ${chosenDay ?? date ?? 'the day'}: ${String(error?.message ?? error)}`, hint ? ` (${hint})` : null));
  };
  start().catch(fail);
  return {
    onLive(type, data) {
      if (destroyed) return;
      // The store answers again after a read failed: read the day now.
      if (type === 'store' && data.status === 'ok' && failed) reload(100);
      // A new version of the shown day (a reconcile, backfill or revert): show it.
      if (type === 'version' && data.date === chosenDay) reload(500);
      // The live stream is back after a gap: a switch of that time was not announced.
      if (type === 'reconnected') reload(100);
      // The store had no day: any news of it (a revision, a watermark, the store free again after a
      // writer) may be its first results; read the days again (the page said "no day" until reloaded).
      if (noDays) reload(500);
    },
    destroy() {
      destroyed = true;
      clearTimeout(again);
      for (const c of charts) c.dispose();
    },
  };
}
