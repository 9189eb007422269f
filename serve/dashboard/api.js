// The page reads only the JSON API of the same server.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const r = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body);
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
