import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { fraudMultiCountry } from '../../examples/seed.ts';
import { reconcile, type LoggedLate } from '../../reconcile/reconcile.ts';
import { cellKey, type LateRecord, type ResultRecord } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// A rule over a topic not keyed by its key: each partition's operator alerts over its own events, and
// evaluates a late event within L on arrival against its own partition's W. The share reconcile compares
// with must be that, not the partition's events as complete data.
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const T0 = Date.UTC(2026, 10, 23, 10);
const S = 1_000;
// More than 1 distinct country within 10 minutes (B = 30 s, L = 5 min).
const def = fraudMultiCountry({ threshold: 1 });
const tx = (txn_id: string, ts: number, country: string) => ({ txn_id, ts, user_id: 'u', country, amount: '1.00' });

describe('mis_keyed rule alerts: events evaluated on arrival', () => {
  it('a share re-runs its partition\'s own late verdicts: an alert decided before a late event arrived is that share\'s', async () => {
    // txns:0 reads a (ES, 0 s), z (FR, 120 s), y (FR, 200 s: W 169.999 s, deciding a and z: alert at z),
    // then e (FR, 100 s), late within L: evaluated on arrival, alert at e. txns:1 holds b (IT, 50 s) alone.
    // The whole key alerts at b only. As complete data txns:0's share alerts at e, not at z (e is z's
    // predecessor), so the stream's alert at z was no share's and stayed unexplained.
    const parts = [
      [tx('a', T0, 'ES'), tx('z', T0 + 120 * S, 'FR'), tx('y', T0 + 200 * S, 'FR'), tx('e', T0 + 100 * S, 'FR')],
      [tx('b', T0 + 50 * S, 'IT')],
    ];
    const written = new Map<string, ResultRecord>();
    const late: LoggedLate[] = [];
    const dir = join(ws.dir, 'rule');
    for (const [p, events] of parts.entries()) {
      const source = `txns:${p}`;
      const op = createOperator(def, {
        result: (r) => written.set(cellKey(r), r),
        late: (l: LateRecord) => late.push({ record: l, evaluatedOnArrival: false }),
        lateAccepted: (l: LateRecord) => late.push({ record: l, evaluatedOnArrival: true }),
        skipped: () => undefined,
      });
      events.forEach((e, offset) => op.process(e as unknown as AnyEvent, { source, offset }));
      op.finish();
      await new ParquetArchive(dir, def.schema).write(memoryBatches(source, events.map((e) => JSON.stringify(e)), 100));
    }
    expect(late.map((l) => [l.record.event.txn_id, l.evaluatedOnArrival])).toEqual([['e', true]]);
    const realtime = [...written.values()];
    // With the workers' log, and without it (the late set judged per partition from the archive).
    for (const lateLog of [late, undefined]) {
      const report = await reconcile({ def, archiveDir: dir, realtime, ...(lateLog ? { lateLog } : {}) });
      const byId = report.differences.map((d) => [d.cell.txn_id, d.realtime ? 'extra' : 'missing', d.cause, d.partitions]);
      expect(byId.sort()).toEqual([
        ['b', 'missing', 'mis_keyed', ['txns:0', 'txns:1']],
        ['e', 'extra', 'mis_keyed', ['txns:0', 'txns:1']],
        ['z', 'extra', 'mis_keyed', ['txns:0', 'txns:1']],
      ]);
      expect(report.unexplained).toBe(0);
    }
  });
});
