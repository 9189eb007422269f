import fc from 'fast-check';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';
import { listArchiveFiles, ParquetArchive } from '../../batch/parquet-archive.ts';
import { replay } from '../../batch/replay.ts';
import { transactionsSchema } from '../../examples/seed.ts';
import { checkDefinition, type RulePipeline } from '../../pipeline/definition.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { loadArchiveAdded } from '../../reconcile/archive-added.ts';
import { archiveChangedSince } from '../../reconcile/archive-changes.ts';
import type { LoggedLate } from '../../reconcile/reconcile.ts';
import { recomputeRuleKeys } from '../../reconcile/rule-recompute.ts';
import { replayRuleDay } from '../../reconcile/rule-day-replay.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { AlertResult, ResultRecord } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { createOperator, type Emitter } from '../../stream/operators/index.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A rule day read over its keys' reach only (reconcile/rule-day-reach.ts: the day, the span before it, and
// each key's last earlier event's span) must give the day's results a read of the whole archive gives:
// the replay (backfill, recompute, reconcile), the store-mode recomputation with the stream's verdicts and
// archive-added files (reconcile), and the backfill's detection must mark every key whose alerts of the
// day a late file changed. Streams of 4 days, users quiet for hours or days between bursts.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(10, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 5));
const M = 60_000, H = 60 * M, DAY = 24 * H;
const BASE = Date.UTC(2026, 10, 20);
const USERS = ['u0', 'u1', 'u2', 'u3'];
let runNo = 0;

const base = { schema: transactionsSchema, key: 'user_id', watermark: { maxOutOfOrderness: 60_000 }, allowedLateness: 30 * M, where: [] } as const;
const rules: { label: string; def: RulePipeline }[] = [
  { label: 'count > 2 within 1 h', def: checkDefinition({ ...base, kind: 'rule', name: 'busy', rule: { kind: 'lookback', measure: 'count', output: 'n', span: H, threshold: 2 } }) as RulePipeline },
  {
    label: 'sum of amount >= 200.00 over 1000.00 within 90 min',
    def: checkDefinition({ ...base, kind: 'rule', name: 'spend', where: [{ field: 'amount', op: '>=', value: 20_000 }], rule: { kind: 'lookback', measure: 'sum', field: 'amount', output: 's', span: 90 * M, threshold: 100_000 } }) as RulePipeline,
  },
];

/** An event: a user, near one of a few anchor times (bursts, with quiet hours and days between), in the stream or a late file. */
const eventArb = fc.record({
  user: fc.nat(USERS.length - 1), anchor: fc.nat(5), jitter: fc.integer({ min: -100, max: 100 }), second: fc.nat(59),
  // Under the limit, or over it alone (a sum rule's first alert of a day then hangs on the status before it).
  amount: fc.oneof(fc.integer({ min: 100, max: 70_000 }), fc.integer({ min: 100_001, max: 150_000 })), delay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 * H })), file: fc.constantFrom(0, 0, 0, 1, 2),
});
const caseArb = fc.record({
  // Minutes from BASE: mostly within hours of a midnight (a key's last events before a day, hours back).
  anchors: fc.array(fc.oneof(fc.integer({ min: 0, max: 4 * 24 * 60 - 1 }), fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: -300, max: 120 })).map(([d, m]) => d * 24 * 60 + m)), { minLength: 6, maxLength: 6 }),
  events: fc.array(eventArb, { minLength: 1, maxLength: 40 }),
  day: fc.integer({ min: 1, max: 3 }),
  keysAsked: fc.subarray(USERS, { minLength: 1 }),
});

type Case = { events: { line: string; ts: number; arrival: number; file: number }[]; from: number; to: number };

function build(c: typeof caseArb extends fc.Arbitrary<infer T> ? T : never): Case {
  const events = c.events.map((e, i) => {
    const ts = Math.min(BASE + 4 * DAY - 1, Math.max(BASE, BASE + (c.anchors[e.anchor]! + e.jitter) * M + e.second * 1000));
    const line = JSON.stringify({ txn_id: `t${i}`, ts, user_id: USERS[e.user], country: 'FR', amount: e.amount / 100 });
    return { line, ts, arrival: ts + e.delay, file: e.file };
  });
  const from = BASE + c.day * DAY;
  return { events, from, to: from + DAY };
}

async function write(dir: string, lines: string[], source: string): Promise<void> {
  if (lines.length > 0) await new ParquetArchive(dir, transactionsSchema).write(memoryBatches(source, lines, 1000));
}

/** The stream over the events it read (in arrival order, one source): its logged verdicts. */
function verdicts(def: RulePipeline, lines: string[], source: string): LoggedLate[] {
  const logged: LoggedLate[] = [];
  const emitter: Emitter = {
    result: () => undefined,
    late: (record) => logged.push({ record, evaluatedOnArrival: false }),
    lateAccepted: (record) => logged.push({ record, evaluatedOnArrival: true }),
  };
  const tracker = new WatermarkTracker(def.watermark.maxOutOfOrderness);
  tracker.addSource(source, { idle: false });
  const op = createOperator(def, emitter, { tracker });
  lines.forEach((line, offset) => {
    const d = decodeLine(def.schema, line, { source, offset });
    if (!d.ok) throw new Error(d.deadLetter.reason);
    op.process(d.event as AnyEvent, { source, offset });
  });
  op.finish();
  return logged;
}

const dayAlerts = (rows: Iterable<ResultRecord>, c: Case) =>
  [...rows].filter((r): r is AlertResult => r.kind === 'alert' && r.ts >= c.from && r.ts < c.to).map((r) => [r.key.user_id, r.id, JSON.stringify(r.value)].join(' ')).sort();
const keysOf = (alerts: string[]) => new Set(alerts.map((a) => a.split(' ')[0]!));

describe.each(rules)('property: a rule day read over its reach is the whole archive\'s ($label)', ({ def }) => {
  it(`replay, recomputation and backfill detection (${RUNS} runs)`, async () => {
    const db = await DuckDb.open();
    try {
      await fc.assert(fc.asyncProperty(caseArb, async (raw) => {
        const c = build(raw);
        const dir = join(ws.dir, `run-${runNo++}`);
        mkdirSync(dir);
        const read = c.events.filter((e) => e.file === 0).sort((a, b) => a.arrival - b.arrival).map((e) => e.line);
        await write(dir, read, 'file:stream.jsonl');
        const before = dayAlerts(await replay(def, dir, { dedupe: true }), c);
        const since = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 5));
        for (const f of [1, 2]) await write(dir, c.events.filter((e) => e.file === f).map((e) => e.line), `file:late-${f}.jsonl`);

        // The replay, of every key and of some.
        const whole = dayAlerts(await replay(def, dir, { dedupe: true }), c);
        expect(dayAlerts((await replayRuleDay(def, dir, c)).alerts, c)).toEqual(whole);
        const asked = raw.keysAsked.map((u) => ({ user_id: u }));
        expect(dayAlerts((await replayRuleDay(def, dir, c, asked)).alerts, c)).toEqual(whole.filter((a) => raw.keysAsked.includes(a.split(' ')[0]!)));

        // The backfill's detection: every key whose alerts of the day the late files changed is marked.
        const changed = [...new Set([...before, ...whole])].filter((a) => !(before.includes(a) && whole.includes(a)));
        const marked = new Set((await archiveChangedSince(def, dir, new Date(c.from).toISOString().slice(0, 10), since)).cells.map((x) => String(x.key.user_id)));
        for (const k of keysOf(changed)) expect([k, marked.has(k)]).toEqual([k, true]);

        // The store-mode recomputation: the stream's verdicts, the late files as archive-added.
        const logged = verdicts(def, read, 'file:stream.jsonl');
        const added = await loadArchiveAdded(db, def, dir, (await listArchiveFiles(dir, def.schema)).filter((f) => f.includes('file_late')));
        const keys = USERS.map((u) => ({ user_id: u }));
        const all = await recomputeRuleKeys(db, def, dir, keys, logged, added);
        const within = (l: LoggedLate) => (l.record.event.ts as number) >= c.from - 2 * def.rule.span;
        const lateBefore = { from: c.from - 2 * def.rule.span, load: async (a: number, b: number) => logged.filter((l) => (l.record.event.ts as number) >= a && (l.record.event.ts as number) < b) };
        const day = await recomputeRuleKeys(db, def, dir, keys, logged.filter(within), added, { range: c, lateBefore });
        expect(dayAlerts(day.alerts.values(), c)).toEqual(dayAlerts(all.alerts.values(), c));
        // No added event read (none in the reach): the same alerts.
        expect(dayAlerts((day.withoutAdded ?? day.alerts).values(), c)).toEqual(dayAlerts((all.withoutAdded ?? all.alerts).values(), c));
        for (const a of [...all.alerts.values()].filter((r): r is AlertResult => r.kind === 'alert' && r.ts >= c.from && r.ts < c.to)) {
          expect([a.id, day.reach(a)]).toEqual([a.id, all.reach(a)]);
        }
      }), { numRuns: RUNS, endOnFailure: true });
    } finally {
      db.close();
    }
  }, 600_000);
});
