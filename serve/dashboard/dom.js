import { formatNumber, formatPercent } from './numbers.js';

// DOM helpers: every value reaches the page as text (textContent), never as HTML.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/**
 * A value that may be very long (a key, an id): one line cut with an ellipsis at a bounded width (CSS
 * `.clip`), the whole value in its title (shown on hover), so no table column is squeezed by it.
 */
export function clipped(text, tag = 'div') {
  return el(tag, { class: 'clip', title: text }, text);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

/** Characters a reader cannot see, or that change how the text around them reads (a right-to-left override). */
const HIDDEN = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const HIDDEN_ALL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * A key value as text, told apart from every other, as the Markdown reports show keys: null is `∅`; a
 * string that could read as something else (empty, `null`, `∅`, a leading or trailing space, the ` · `
 * between key values, a control character such as a CR, which shows as a space, an invisible or
 * right-to-left character: `\u202e` made `exe.txt` of a value `\u202etxt.exe`) is JSON-quoted, each
 * such character written `\uXXXX`.
 */
function keyValueText(v) {
  if (v === null || v === undefined) return '∅';
  if (typeof v !== 'string') return String(v);
  if (v === '' || v === 'null' || v === '∅' || v === '(all)' || /^\s|\s$|·/.test(v) || HIDDEN.test(v)) {
    return JSON.stringify(v).replace(HIDDEN_ALL, (c) => `\\u${c.codePointAt(0).toString(16).padStart(4, '0')}`);
  }
  return v;
}

export const fmt = {
  num: (v) => formatNumber(v),
  pct: (v) => formatPercent(v),
  time: (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/:00Z$/, 'Z') : '–'),
  clock: (iso) => (iso ? iso.slice(11, 19) : '–'),
  key: (key) => {
    const values = Object.values(key ?? {});
    return values.length === 0 ? '(all)' : values.map(keyValueText).join(' · ');
  },
  keyValue: (v) => keyValueText(v),
  /** A list of values (a distinct set, an alert's output), each as a key value is shown. */
  list: (values) => values.map(keyValueText).join(' '),
  values: (values) => (values ? Object.entries(values).map(([k, v]) => `${k} ${Array.isArray(v) ? fmt.list(v) : fmt.num(v)}`).join(', ') : '–'),
  lag: (ms) => {
    if (ms === null || ms === undefined) return '–';
    const ahead = ms < 0;
    let s = Math.abs(Math.round(ms / 1000));
    const parts = [];
    for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
      if (s >= n || (u === 's' && parts.length === 0)) { parts.push(`${Math.floor(s / n)}${u}`); s %= n; }
      if (parts.length === 2) break;
    }
    return ahead ? `${parts.join(' ')} ahead` : `${parts.join(' ')} behind`;
  },
};

export function emptyState(title, lines) {
  return el('section', { class: 'card empty', 'data-testid': 'empty-state' }, el('h2', {}, title), ...lines.map((l) => el('p', {}, ...l)));
}
