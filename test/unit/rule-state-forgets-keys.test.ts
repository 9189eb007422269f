import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, transactionsSchema } from '../../examples/seed.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { ResultRecord } from '../../schemas/results.ts';
import { createOperator } from '../../stream/operators/index.ts';
import type { StreamOperator } from '../../stream/operators/operator.ts';

const T0 = Date.UTC(2026, 11, 5);
const MIN = 60_000;
let offset = 0;
function send(op: StreamOperator, user: string, ts: number, country: string): void {
  const d = decodeLine(transactionsSchema, JSON.stringify({ txn_id: `t-${offset}`, ts, user_id: user, country, amount: '1.00' }), { source: 't', offset });
  if (!d.ok) throw new Error(d.deadLetter.reason);
  op.process(d.event, { source: 't', offset: offset++ });
}
const users = (op: StreamOperator) => (op.snapshot().state as { users: { key: string }[] }).users.map((u) => u.key);

// A rule keyed by card or user kept an entry for every key it had ever seen, events long forgotten:
// over days the state (and every checkpoint of it) grew with the number of distinct keys.
describe('the lookback rule forgets keys with nothing left to decide', () => {
  it('a key whose events all passed the horizon leaves the state, unless its last event was satisfied; alerts unchanged', () => {
    const alerts: ResultRecord[] = [];
    const op = createOperator(fraudMultiCountry(), { result: (r) => alerts.push(r), late: () => undefined });
    for (let i = 0; i < 1000; i++) send(op, `quiet-${i}`, T0 + (i % 60) * 1000, 'US');
    ['US', 'DE', 'FR', 'GB'].forEach((c, i) => send(op, 'ring', T0 + 70_000 + i * 1000, c)); // satisfied: > 3 countries
    expect(users(op)).toHaveLength(1001);
    // An hour of one other user's events moves W past every horizon (W - L - span), sweeping as it goes.
    for (let t = 2 * MIN; t <= 60 * MIN; t += MIN) send(op, 'late-comer', T0 + t, 'US');
    expect(users(op).sort()).toEqual(['late-comer', 'ring']);
    expect(alerts.map((a) => a.kind === 'alert' && a.key)).toEqual([{ user_id: 'ring' }]);
  });
});
