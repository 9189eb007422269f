import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concordOk, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Orders whose fields sit in arrays (`{"items": [{"sku": "a", "price": "3.10"}], "tags": ["x"],
// "geo": {"coords": [lon, lat]}}`), read by the schema's `paths` with array indexes: `stream`, and
// `archive` + `replay`, through the real CLI agree with each other and with sums made here from the
// orders; the orders whose path leads to no value are the same dead letters in the stream and the
// archive, each reason saying what was found.
const ws = tempWorkspace('concord-array-paths-');
afterAll(() => ws.cleanup());

const defs = {
  schemas: { orders: {
    time: 'ts', id: 'order_id', key: 'sku',
    fields: { order_id: 'string', ts: 'timestamp', sku: 'string', price: 'decimal(2)', first_tag: 'string?', last_tag: 'string?', lon: 'double?' },
    paths: { sku: 'items[0].sku', price: ['items', 0, 'price'], first_tag: 'tags[0]', last_tag: 'tags[-1]', lon: 'geo.coords[0]' },
  } },
  pipelines: {
    per_sku: { input: 'orders', key: 'sku', window: { tumbling: '1m' }, aggregates: { n: 'count', revenue: ['sum', 'price'], lon: ['max', 'lon'] } },
    per_last_tag: { input: 'orders', key: 'last_tag', window: { tumbling: '1m' }, aggregates: { n: 'count', first: ['count_distinct', 'first_tag'] } },
  },
};

const T = Date.UTC(2026, 10, 23, 10);
interface Order { id: string; ts: number; sku: string; cents: number; tags: string[]; lon?: number }
const orders: Order[] = Array.from({ length: 36 }, (_, i) => ({
  id: `o${i}`, ts: T + i * 7_000, sku: `s${i % 3}`, cents: 100 + i * 5, tags: ['a', 'b', 'c'].slice(0, i % 4), ...(i % 5 === 0 ? {} : { lon: i / 10 }),
}));
const written = (o: Order): Record<string, unknown> => ({
  order_id: o.id, ts: new Date(o.ts).toISOString(),
  items: [{ sku: o.sku, price: (o.cents / 100).toFixed(2) }, { sku: 'other', price: '99.00' }],
  tags: o.tags, ...(o.lon === undefined ? {} : { geo: { coords: [o.lon, 40.1] } }),
});
const at = new Date(T + 60_000).toISOString();
const refused = [
  [{ order_id: 'bad1', ts: at, items: [] }, 'sku: is required (nor at "items[0].sku": "items" is an empty array)'],
  [{ order_id: 'bad2', ts: at, items: { sku: 's1', price: 1 } }, 'sku: expected an array at "items", got object {"sku":"s1","price":1}'],
  [{ order_id: 'bad3', ts: at, items: [{ sku: 's1', price: 1 }], tags: 'a' }, 'first_tag: expected an array at "tags", got string "a"'],
  [{ order_id: 'bad4', ts: at, items: [{ sku: 's1', price: 1 }], geo: { coords: [[1, 2]] } }, 'lon: expected a finite number, got an array (at "geo.coords[0]")'],
] as const;

/** per_sku's rows from the orders themselves: per minute and sku, the count, the revenue, the largest lon. */
function expectedPerSku(): string[] {
  const cells = new Map<string, Order[]>();
  for (const o of orders) {
    const id = JSON.stringify([o.ts - (o.ts % 60_000), o.sku]);
    cells.set(id, [...(cells.get(id) ?? []), o]);
  }
  return [...cells].map(([id, os]) => {
    const [start, sku] = JSON.parse(id) as [number, string];
    const lons = os.flatMap((o) => (o.lon === undefined ? [] : [o.lon]));
    return JSON.stringify([new Date(start).toISOString(), sku, os.length, os.reduce((s, o) => s + o.cents, 0) / 100, lons.length === 0 ? null : Math.max(...lons)]);
  }).sort();
}

describe('array elements on paths through stream, archive and replay (CLI)', () => {
  it('the stream and the replay of the archive agree, and with the orders; refused orders are counted alike', () => {
    const definitions = ws.file('defs.json', [defs]);
    const input = ws.file('orders.jsonl', [...orders.map(written), ...refused.map(([e]) => e)]);
    const archive = join(ws.dir, 'archive');
    const ok = (args: string[]) => concordOk([...args, '--definitions', definitions]);
    expect(ok(['archive', '--schema', 'orders', '--input', input, '--dir', archive]).stderr).toContain(`archived ${orders.length} orders events into 1 Parquet files, ${refused.length} rejected`);
    const rejected = readdirSync(join(archive, 'orders', '_rejected')).flatMap((f) => jsonLines(readFileSync(join(archive, 'orders', '_rejected', f), 'utf8')));
    expect(rejected.map((d) => d.reason)).toEqual(refused.map(([, reason]) => reason));

    for (const pipeline of Object.keys(defs.pipelines)) {
      const out = join(ws.dir, `${pipeline}.stream.jsonl`), dead = join(ws.dir, `${pipeline}.dlq.jsonl`), replayed = join(ws.dir, `${pipeline}.replay.jsonl`);
      const streamed = ok(['stream', '--pipeline', pipeline, '--input', input, '--output', out, '--final', '--dead-letter', dead]);
      expect(streamed.stderr).toContain(`${orders.length} events`);
      expect(jsonLines(readFileSync(dead, 'utf8')).map((d) => [d.offset, d.reason])).toEqual(refused.map(([, reason], i) => [orders.length + i, reason]));
      ok(['replay', '--pipeline', pipeline, '--input', archive, '--output', replayed]);
      const rows = (path: string) => jsonLines(readFileSync(path, 'utf8')).map(({ watermark: _w, revision: _r, ...row }) => JSON.stringify(row)).sort();
      expect(rows(out).length).toBeGreaterThan(0);
      expect(rows(replayed)).toEqual(rows(out));
      const streamRows = jsonLines(readFileSync(out, 'utf8'));
      if (pipeline === 'per_sku') {
        expect(streamRows.map((r) => JSON.stringify([r.window_start, r.sku, r.n, r.revenue, r.lon])).sort()).toEqual(expectedPerSku());
      } else {
        // The last tag of each order, null for an order without tags (an optional field's missing element).
        const lastTags = new Map<string | null, number>();
        for (const o of orders) lastTags.set(o.tags.at(-1) ?? null, (lastTags.get(o.tags.at(-1) ?? null) ?? 0) + 1);
        const counted = new Map<string | null, number>();
        for (const r of streamRows) counted.set(r.last_tag as string | null, (counted.get(r.last_tag as string | null) ?? 0) + (r.n as number));
        expect(counted).toEqual(lastTags);
      }
    }

    const explained = ok(['explain', '--pipeline', 'per_sku']).stdout;
    expect(explained).toContain('sku read as "sku", then at "items[0].sku"');
    expect(explained).toContain('price read as "price", then at "items[0].price"');
    expect(explained).toContain('lon read as "lon", then at "geo.coords[0]"');
  }, 180_000);
});
