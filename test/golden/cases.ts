/**
 * Hand-made golden cases: input lines in arrival order, B and L, and the expected outcome of
 * both runtimes. Each case is run through stream, archive + replay, and reconcile.
 */
export interface GoldenCase {
  name: string;
  pipeline: 'page_views_per_minute' | 'unique_visitors_5m' | 'fraud_multi_country';
  maxOutOfOrderness: number;
  allowedLateness: number;
  input: Record<string, unknown>[];
  /** Final stream rows (highest revision per window/key), as JSON fields to match. */
  stream: Record<string, unknown>[];
  /** Every emitted revision in emission order, where the changelog itself is the point. */
  changelog?: Record<string, unknown>[];
  /** Late side output: event ids with the W they met. */
  late: { id: string; watermark: string }[];
  replay: Record<string, unknown>[];
}

const click = (id: string, ts: number | string, url = '/a', visitor = 'v1') => ({ event_id: id, ts, url, visitor_id: visitor });
const txn = (id: string, ts: number, country: string, user = 'u1') => ({ txn_id: id, ts, user_id: user, country, amount: 10 });
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;
const DAY = Date.UTC(2026, 10, 24); // 2026-11-24T00:00:00Z

export const goldenCases: GoldenCase[] = [
  {
    name: 'ts == end - 1 belongs to the window, ts == end to the next; with L = 0 a fired window takes nothing more',
    pipeline: 'page_views_per_minute', maxOutOfOrderness: 0, allowedLateness: 0,
    input: [click('e1', 59_999), click('e2', 60_000), click('e3', 59_999)],
    stream: [
      { window_start: iso(0), window_end: iso(MIN), url: '/a', views: 1, revision: 0, watermark: iso(59_999) },
      { window_start: iso(MIN), window_end: iso(2 * MIN), url: '/a', views: 1, revision: 0, watermark: '+infinity' },
    ],
    late: [{ id: 'e3', watermark: iso(59_999) }],
    replay: [
      { window_start: iso(0), url: '/a', views: 2 },
      { window_start: iso(MIN), url: '/a', views: 1 },
    ],
  },
  {
    name: 'W exactly at end fires; updates until W = end - 1 + L; late from then on (also at W = end + L)',
    pipeline: 'page_views_per_minute', maxOutOfOrderness: 0, allowedLateness: MIN,
    input: [
      click('a', 10_000), click('b', 60_001), click('c', 30_000), click('d', 120_000),
      click('e', 59_999), click('f', 60_000), click('h', 120_001), click('i', 0),
    ],
    changelog: [
      { window_start: iso(0), views: 1, revision: 0, watermark: iso(60_000) },
      { window_start: iso(0), views: 2, revision: 1, watermark: iso(60_000) },
      { window_start: iso(MIN), views: 1, revision: 0, watermark: iso(119_999) },
      { window_start: iso(MIN), views: 2, revision: 1, watermark: iso(119_999) },
      { window_start: iso(2 * MIN), views: 2, revision: 0, watermark: '+infinity' },
    ],
    stream: [
      { window_start: iso(0), views: 2, revision: 1 },
      { window_start: iso(MIN), views: 2, revision: 1 },
      { window_start: iso(2 * MIN), views: 2, revision: 0 },
    ],
    late: [{ id: 'e', watermark: iso(119_999) }, { id: 'i', watermark: iso(120_000) }],
    replay: [
      { window_start: iso(0), views: 4 },
      { window_start: iso(MIN), views: 2 },
      { window_start: iso(2 * MIN), views: 2 },
    ],
  },
  {
    name: 'worked example of docs/semantics.md (B = 30 s, L = 60 s)',
    pipeline: 'page_views_per_minute', maxOutOfOrderness: 30_000, allowedLateness: MIN,
    input: [click('e1', 59_999), click('e2', 90_000), click('e3', 1_000), click('e4', 150_000), click('e5', 2_000)],
    stream: [
      { window_start: iso(0), views: 2, revision: 1, watermark: iso(59_999) },
      { window_start: iso(MIN), views: 1, revision: 0, watermark: iso(119_999) },
      { window_start: iso(2 * MIN), views: 1, revision: 0, watermark: '+infinity' },
    ],
    late: [{ id: 'e5', watermark: iso(119_999) }],
    replay: [
      { window_start: iso(0), views: 3 },
      { window_start: iso(MIN), views: 1 },
      { window_start: iso(2 * MIN), views: 1 },
    ],
  },
  {
    name: 'midnight crossing, ties in ts, ISO (Z and offset) and epoch input',
    pipeline: 'page_views_per_minute', maxOutOfOrderness: 30_000, allowedLateness: 5 * MIN,
    input: [
      click('m1', '2026-11-23T23:59:59.999Z', '/a'),
      click('m2', DAY, '/a'),
      click('m3', '2026-11-24T01:00:00.000+01:00', '/b'),
      click('m4', DAY, '/a'),
      click('m5', '2026-11-23T18:59:30-05:00', '/a'),
    ],
    stream: [
      { window_start: '2026-11-23T23:59:00.000Z', window_end: '2026-11-24T00:00:00.000Z', url: '/a', views: 2, revision: 0 },
      { window_start: '2026-11-24T00:00:00.000Z', url: '/a', views: 2, revision: 0 },
      { window_start: '2026-11-24T00:00:00.000Z', url: '/b', views: 1, revision: 0 },
    ],
    late: [],
    replay: [
      { window_start: '2026-11-23T23:59:00.000Z', url: '/a', views: 2 },
      { window_start: '2026-11-24T00:00:00.000Z', url: '/a', views: 2 },
      { window_start: '2026-11-24T00:00:00.000Z', url: '/b', views: 1 },
    ],
  },
  {
    name: 'unique visitors: duplicates of a visitor count once, windows of 5 minutes',
    pipeline: 'unique_visitors_5m', maxOutOfOrderness: 30_000, allowedLateness: 5 * MIN,
    input: [
      click('u1', 0, '/a', 'alice'), click('u2', 1_000, '/b', 'bob'), click('u3', 299_999, '/c', 'alice'),
      click('u4', 300_000, '/a', 'carol'), click('u5', 2_000, '/a', 'dave'),
    ],
    stream: [
      { window_start: iso(0), window_end: iso(5 * MIN), visitors: 3, revision: 0 },
      { window_start: iso(5 * MIN), visitors: 1, revision: 0 },
    ],
    late: [],
    replay: [
      { window_start: iso(0), visitors: 3, visitors_exact: 3 },
      { window_start: iso(5 * MIN), visitors: 1, visitors_exact: 1 },
    ],
  },
  {
    name: 'fraud: the five-row example: the row exactly one span back and later same-ts rows are not in C(t)',
    pipeline: 'fraud_multi_country', maxOutOfOrderness: 30_000, allowedLateness: 5 * MIN,
    input: [txn('t1', 0, 'US'), txn('t2', 300_000, 'FR'), txn('t3', 400_000, 'DE'), txn('t5', 600_000, 'ES'), txn('t4', 600_000, 'IT')],
    stream: [{ user_id: 'u1', txn_id: 't5', ts: iso(600_000), countries: ['DE', 'ES', 'FR', 'IT'] }],
    late: [],
    replay: [{ user_id: 'u1', txn_id: 't5', ts: iso(600_000), countries: ['DE', 'ES', 'FR', 'IT'] }],
  },
  {
    name: 'fraud: one alert per crossing; a second crossing after the status dropped alerts again',
    pipeline: 'fraud_multi_country', maxOutOfOrderness: 30_000, allowedLateness: 5 * MIN,
    input: [
      txn('a1', 0, 'US'), txn('a2', 60_000, 'FR'), txn('a3', 120_000, 'DE'), txn('a4', 180_000, 'IT'), txn('a5', 240_000, 'ES'),
      txn('a6', 2 * 3_600_000, 'US'), txn('a7', 2 * 3_600_000 + 1, 'FR'), txn('a8', 2 * 3_600_000 + 2, 'DE'), txn('a9', 2 * 3_600_000 + 3, 'PL'),
    ],
    stream: [
      { txn_id: 'a4', countries: ['DE', 'FR', 'IT', 'US'] },
      { txn_id: 'a9', countries: ['DE', 'FR', 'PL', 'US'] },
    ],
    late: [],
    replay: [{ txn_id: 'a4' }, { txn_id: 'a9' }],
  },
  {
    name: 'fraud lateness: a late transaction within L is evaluated once on arrival (late: true); beyond L it is dropped',
    pipeline: 'fraud_multi_country', maxOutOfOrderness: 0, allowedLateness: MIN,
    input: [
      txn('x0', 50_000, 'ES'), txn('x1', 100_000, 'US'), txn('x2', 200_000, 'FR'), txn('x3', 300_000, 'DE'),
      txn('x4', 250_000, 'IT'), txn('x5', 100_000, 'PL'),
    ],
    stream: [{ txn_id: 'x4', countries: ['ES', 'FR', 'IT', 'US'], late: true, watermark: iso(299_999) }],
    late: [{ id: 'x5', watermark: iso(299_999) }],
    replay: [{ txn_id: 'x2', countries: ['ES', 'FR', 'PL', 'US'] }],
  },
];
