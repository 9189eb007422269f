import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { produceRequests } from '../../stream/kafka/producer.ts';
import type { OutRecord } from '../../stream/kafka/common.ts';

// The broker refuses a partition's record batch over max.message.bytes (1 MiB): a transaction's records
// go out in requests small enough that no partition's batch can reach it.
describe('produce requests', () => {
  const record = fc.record({
    topic: fc.constantFrom('t.results', 't.dead-letters'),
    key: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
    // Mostly small values, some of hundreds of KB (a dead letter's bounded raw is far smaller; a checkpoint is not).
    value: fc.oneof({ weight: 9, arbitrary: fc.string({ maxLength: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 600_000 }).map((n) => 'é'.repeat(n)) }),
  });
  it('keeps every record once, in order, each request at most 768 KiB unless one record is larger', () => {
    fc.assert(fc.property(fc.array(record, { maxLength: 400 }), (records: OutRecord[]) => {
      const requests = produceRequests(records);
      expect(requests.flat()).toEqual(records);
      for (const r of requests) {
        expect(r.length).toBeGreaterThan(0);
        const bytes = r.reduce((n, x) => n + 32 + Buffer.byteLength(x.value ?? '') + (x.key === null ? 0 : Buffer.byteLength(x.key)), 0);
        if (r.length > 1) expect(bytes).toBeLessThanOrEqual(768 * 1024);
      }
    }), { numRuns: 200 });
  });

  it('sends 50,000 small records of one partition as several requests, none over the limit', () => {
    const records = Array.from({ length: 50_000 }, (_, i) => ({ topic: 't.dead-letters', key: 'p0', value: `{"offset":${i},"raw":"${'x'.repeat(200)}"}` }));
    const requests = produceRequests(records);
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.reduce((n, r) => n + r.length, 0)).toBe(50_000);
  });
});
