import { mountDay } from './day-view.js';
import { mountLive } from './live-view.js';

// The shell: routes (#/live, #/day/YYYY-MM-DD), one live event stream shared by the views, the banner.

const view = document.getElementById('view');
const conn = document.getElementById('conn');
const banner = document.getElementById('banner');
const storeLabel = document.getElementById('store');
let current;
let liveEvents = 0;

const shell = {
  banner(text) {
    banner.hidden = !text;
    banner.textContent = text ?? '';
  },
  store(text) {
    storeLabel.textContent = text;
  },
};

function route() {
  const hash = location.hash || '#/live';
  const [, name, arg] = hash.split('/');
  current?.destroy();
  view.replaceChildren();
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (name === 'day' ? 'day' : 'live'));
  // The tab and the history say which view (and day) they hold: every view was titled "Concord".
  const day = arg && /^\d{4}-\d{2}-\d{2}$/.test(arg) ? arg : undefined;
  document.title = name === 'day' ? `${day ? `Day ${day}` : 'Day'} · Concord` : 'Live · Concord';
  current = name === 'day' ? mountDay(view, shell, day) : mountLive(view, shell);
}

function connect() {
  const es = new EventSource('/api/live');
  // Events of the time the stream was away are never sent (a restarted server starts at the newest
  // switch): once it is back, the view reads again what it shows.
  let lost = false;
  es.addEventListener('open', () => {
    conn.dataset.state = 'live'; conn.textContent = 'live';
    if (lost) { lost = false; current?.onLive?.('reconnected', {}); }
  });
  es.addEventListener('error', () => { lost = true; conn.dataset.state = 'error'; conn.textContent = 'reconnecting…'; });
  for (const type of ['revision', 'alert', 'version', 'watermark', 'resync', 'store']) {
    es.addEventListener(type, (e) => {
      liveEvents++;
      document.body.dataset.liveEvents = String(liveEvents);
      const data = JSON.parse(e.data);
      if (type === 'store') shell.banner(data.status === 'ok' ? null : `The store does not answer (${data.status}): ${data.message ?? ''} Showing the last data.`);
      current?.onLive?.(type, data);
    });
  }
}

window.addEventListener('hashchange', route);
route();
connect();
