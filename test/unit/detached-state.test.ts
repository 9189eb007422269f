import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { clicksSchema, fraudMultiCountry, pageViewsPerMinute, transactionsSchema } from '../../examples/seed.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { AnyEvent, EventSchema } from '../../schemas/schema.ts';
import { createOperator } from '../../stream/operators/index.ts';
import type { StreamOperator } from '../../stream/operators/operator.ts';

// The flat-object reader's strings are slices of their input line, and V8 keeps a slice's whole line
// alive: state that outlives a batch must hold its own characters (schemas/flat-json.ts `detached`), or
// 20k keys read from 2 KB lines hold 40 MB instead of ~2 MB.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const KEYS = 20_000;
const PAD = 'x'.repeat(2_000);
/** What the lines would hold if any string of the state kept its line: ~38 MiB. */
const LINES_MIB = (KEYS * PAD.length) / 2 ** 20;

function heldMiB(schema: EventSchema, line: (i: number) => string, feed: (op: StreamOperator, e: AnyEvent, i: number) => void, op: StreamOperator): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < KEYS; i++) {
    const d = decodeLine(schema, line(i), { source: 't', offset: i });
    if (!d.ok) throw new Error(d.deadLetter.reason);
    feed(op, d.event, i);
  }
  gc();
  const mib = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  if (process.env.CONCORD_TEST_VERBOSE) process.stderr.write(`held ${mib.toFixed(1)} MiB\n`);
  return mib;
}

const noop = { result: () => undefined, late: () => undefined };
const T0 = Date.UTC(2026, 10, 23);

describe('state read from plain lines holds its own strings, not the lines', () => {
  it('window panes keyed by a long url', () => {
    const op = createOperator(pageViewsPerMinute, noop);
    const mib = heldMiB(clicksSchema,
      (i) => JSON.stringify({ event_id: `c-${i}`, ts: T0 + 1_000, url: `/products/a-long-product-path-${i}`, visitor_id: `v-${i}`, country: 'US', user_agent: PAD }),
      (o, e, i) => o.process(e, { source: 't', offset: i }), op);
    expect(JSON.stringify(op.snapshot())).toContain('a-long-product-path-19999'); // the panes are still held
    expect(mib).toBeLessThan(LINES_MIB * 0.75);
  });

  it('a rule\'s users and kept events', () => {
    const op = createOperator(fraudMultiCountry(), noop);
    const mib = heldMiB(transactionsSchema,
      (i) => JSON.stringify({ txn_id: `t-0000-0000-0000-${i}`, ts: T0 + 1_000, user_id: `user-0000-0000-${i}`, country: `a-country-with-a-long-name-${i % 7}`, amount: '10.00', merchant: PAD }),
      (o, e, i) => o.process(e, { source: 't', offset: i }), op);
    expect(JSON.stringify(op.snapshot())).toContain('user-0000-0000-19999'); // the users are still held
    expect(mib).toBeLessThan(LINES_MIB * 0.75);
  });
});
