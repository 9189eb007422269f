import { describe, expect, it } from 'vitest';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';

// In the soak a worker that handed transactions partitions 0, 2, 4 to the other worker kept exporting
// their watermark: its lag grew with the wall clock (42 s to 1,330 s in 25 minutes) while the new owner
// reported 37 s, and a max() over the workers read as a stuck pipeline.
describe('a worker\'s metrics after a partition is handed away', () => {
  it('drop that partition\'s watermarks and consumer lag, keep the others', async () => {
    let now = 1_764_000_000_000;
    const m = new PromProcessMetrics(() => now);
    for (const p of [0, 1]) {
      m.watermark('fraud_multi_country', String(p), now - 30_000);
      m.consumerLag('soak.transactions', p, 5);
    }
    m.watermark('fraud_multi_country', 'all', now - 30_000);
    m.partitionGone('soak.transactions', ['fraud_multi_country'], 0);
    now += 3_600_000;
    const text = await m.registry.metrics();
    const lines = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    expect(lines('concord_stream_watermark_lag_seconds').map((l) => /partition="([^"]+)"/.exec(l)![1]).sort()).toEqual(['1', 'all']);
    expect(lines('concord_consumer_lag_records').map((l) => /partition="([^"]+)"/.exec(l)![1])).toEqual(['1']);
  });
});
