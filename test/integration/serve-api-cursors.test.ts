import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGet, DATE, F, P, serveBackends, serveFilledStore, U, type ServeServer } from '../fixtures/serve-api.ts';

// A paging cursor of one listing was taken by another: a /windows cursor by /alerts, by /compare and by
// another pipeline's /windows, a day's report offset by /dead-letters, an ascending alerts cursor by a
// descending listing. Each paged on from a position that means nothing there: rows left out or repeated,
// with a 200 (seen in a walkthrough, session 35). Each is now a 400 saying to start again without it;
// the listing that returned a cursor still pages with it. The cursors do not depend on the backend:
// embedded DuckDB only.
describe.each(serveBackends('concord-serve-api-cursors-').filter((b) => !b.pg))('concord serve cursors on $name', (b) => {
  let server: ServeServer;
  beforeAll(async () => { ({ server } = await serveFilledStore(b)); }, 240_000);
  afterAll(async () => { await server?.close(); });
  const get = apiGet(() => server);
  const cursorOf = async (url: string, field = (body: Record<string, any>) => body.next_cursor as string | null) => {
    const r = await get(url);
    expect(r.status, r.raw).toBe(200);
    const cursor = field(r.body);
    expect(cursor, url).toEqual(expect.any(String));
    return cursor!;
  };
  const refused = async (url: string) => {
    const r = await get(url);
    expect({ url, status: r.status, body: r.body }).toEqual({
      url, status: 400, body: { error: 'cursor: belongs to another listing', parameter: 'cursor', hint: expect.stringMatching(/ask again without cursor for the first page/) },
    });
  };

  it('a cursor of another route, pipeline, day or order is a 400', async () => {
    const windows = await cursorOf(`/api/pipelines/${P}/windows?date=${DATE}&limit=1`);
    await refused(`/api/pipelines/${F}/alerts?date=${DATE}&cursor=${windows}`);
    await refused(`/api/pipelines/${U}/windows?date=${DATE}&cursor=${windows}`);
    await refused(`/api/days/${DATE}/pipelines/${P}/compare?only=all&cursor=${windows}`);
    await refused(`/api/pipelines/${P}/late?date=${DATE}&cursor=${windows}`);

    const alerts = await cursorOf(`/api/pipelines/${F}/alerts?date=${DATE}&limit=1`);
    await refused(`/api/pipelines/${P}/windows?date=${DATE}&cursor=${alerts}`);
    await refused(`/api/pipelines/${F}/alerts?date=${DATE}&order=desc&cursor=${alerts}`);

    const report = await cursorOf(`/api/days/${DATE}/pipelines/${P}/report?limit=1`);
    await refused(`/api/dead-letters?cursor=${report}`);
    await refused(`/api/days/${DATE}/pipelines/${U}/report?cursor=${report}`);
    const dead = await cursorOf('/api/dead-letters?limit=1', (body) => body.examples.next_cursor);
    await refused(`/api/days/${DATE}/pipelines/${P}/report?cursor=${dead}`);
    await refused('/api/dead-letters?schema=transactions&cursor=' + dead);
  });

  it('the listing that returned a cursor pages on with it (the same rows as one page)', async () => {
    for (const url of [`/api/pipelines/${P}/windows?date=${DATE}`, `/api/pipelines/${F}/alerts?date=${DATE}`, `/api/pipelines/${F}/alerts?date=${DATE}&order=desc`, `/api/days/${DATE}/pipelines/${P}/compare?only=all`]) {
      const whole = (await get(`${url}&limit=4`)).body.rows;
      const first = await get(`${url}&limit=2`);
      const second = await get(`${url}&limit=2&cursor=${first.body.next_cursor}`);
      expect([...first.body.rows, ...second.body.rows], url).toEqual(whole);
    }
    const report = (await get(`/api/days/${DATE}/pipelines/${P}/report?limit=4`)).body.differences;
    const first = await get(`/api/days/${DATE}/pipelines/${P}/report?limit=2`);
    const second = await get(`/api/days/${DATE}/pipelines/${P}/report?limit=2&cursor=${first.body.next_cursor}`);
    expect([...first.body.differences, ...second.body.differences]).toEqual(report);
  });
});
