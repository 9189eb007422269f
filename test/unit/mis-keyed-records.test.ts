import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { validateEvent } from '../../schemas/schema.ts';
import { recordKey } from '../../stream/kafka/topics.ts';
import { misKeyed } from '../../stream/worker-admission.ts';

// A producer that sends no record key (or keys by another field) spreads one driver's rides over
// partitions; a pipeline computed per partition then counted each share apart and one share's result
// replaced the other's in the results topic, silently (reproduced: 20 rides per driver, 10 shown). The
// worker now counts such records and says so; records keyed as `concord produce` keys them never count.
const registry = parseDefinitions({
  schemas: {
    rides: {
      time: 'at', id: 'id', key: 'k',
      fields: { id: 'string', at: 'timestamp', k: 'decimal(2)?' },
    },
    trips: { time: 'at', id: 'id', key: 'driver', fields: { id: 'string', at: 'timestamp', driver: 'string' } },
  },
  pipelines: {
    per_k: { input: 'rides', key: ['k'], window: { tumbling: '1m' }, aggregates: { n: 'count' } },
    per_driver: { input: 'trips', key: ['driver'], window: { tumbling: '1m' }, aggregates: { n: 'count' } },
  },
}, 'mis-keyed');

describe('records not keyed by the partition key', () => {
  it('concord produce\'s key of any valid event is never flagged', () => {
    const rides = registry.schema('rides'), trips = registry.schema('trips');
    fc.assert(fc.property(
      fc.option(fc.oneof(fc.integer({ min: -1e9, max: 1e9 }).map((m) => m / 100), fc.integer({ min: -1e6, max: 1e6 }).map((m) => `${m}.5`)), { nil: null }),
      fc.string({ minLength: 1 }).filter((s) => !/\p{Surrogate}/u.test(s)),
      (k, driver) => {
        const ride = { id: 'r', at: 1_000, ...(k === null ? {} : { k }) }, trip = { id: 't', at: 1_000, driver };
        expect(misKeyed('k', validateEvent(rides, ride), recordKey(rides, ride))).toBeNull();
        expect(misKeyed('driver', validateEvent(trips, trip), recordKey(trips, trip))).toBeNull();
      },
    ), { numRuns: 500 });
  });

  it('a record without a key, or keyed by another field, is flagged, naming both', () => {
    const trips = registry.schema('trips');
    const event = validateEvent(trips, { id: 't1', at: 1_000, driver: 'd0' });
    expect(misKeyed('driver', event, null)).toBe('record key no key, driver "d0"');
    expect(misKeyed('driver', event, 't1')).toBe('record key "t1", driver "d0"');
    expect(misKeyed('k', validateEvent(registry.schema('rides'), { id: 'r', at: 1 }), 'x')).toBe('record key "x", k absent');
  });
});
