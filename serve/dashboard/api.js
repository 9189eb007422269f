// The page reads only the JSON API of the same server.

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
    /** Seconds, from a Retry-After header (a 503 of a store a writer holds says 1); null: none. */
    this.retryAfter = retryAfter;
  }
}

/**
 * How a failed read is headed: an answer with an error status is not silence (a 500 was headed "The API
 * does not answer"); a network failure is.
 */
export function failureTitle(error) {
  return error instanceof ApiError ? `The API answered with an error (HTTP ${error.status})` : 'The API does not answer';
}

/** Retry-After in seconds (delta-seconds or an HTTP date); null when absent or unreadable. */
function retryAfterOf(r) {
  const h = r.headers.get('retry-after');
  if (!h) return null;
  const n = Number(h);
  if (Number.isFinite(n) && n >= 0) return n;
  const at = Date.parse(h);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/** When to try again after `error` (ms): its Retry-After (default 1 s), doubled for each busy answer in a row (`streak` from 1), at most `cap`. */
export function retryDelay(error, streak = 1, cap = 5000) {
  const base = 1000 * (error?.retryAfter ?? 1);
  return Math.min(cap, Math.max(250, base) * 2 ** Math.min(Math.max(0, streak - 1), 5));
}

export async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const r = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body, retryAfterOf(r));
  return body;
}

/** Every page of a paged answer (rows + next_cursor), at most `maxPages`. */
export async function allRows(path, params = {}, maxPages = 10) {
  const rows = [];
  let cursor;
  for (let i = 0; i < maxPages; i++) {
    const page = await api(path, { ...params, cursor });
    rows.push(...page.rows);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return rows;
}

/**
 * `/windows?top=N`: the ranked keys (`top`, as /top answers them, from the first page) and every page of
 * their windows, at most `maxPages`.
 */
export async function topWindows(path, params, maxPages = 10) {
  const rows = [];
  let cursor, top;
  for (let i = 0; i < maxPages; i++) {
    const page = await api(path, { ...params, cursor });
    top ??= { keys: page.top ?? [] };
    rows.push(...page.rows);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return { top, rows };
}

export const enc = encodeURIComponent;
