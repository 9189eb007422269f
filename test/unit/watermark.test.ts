import { describe, expect, it } from 'vitest';
import { WatermarkTracker } from '../../pipeline/watermark.ts';

describe('WatermarkTracker', () => {
  it('is max(ts - B - 1) per source, the minimum over sources, never going back', () => {
    const t = new WatermarkTracker(30_000);
    expect(t.current).toBe(-Infinity);
    t.observe('p0', 100_000);
    expect(t.current).toBe(69_999);
    t.observe('p1', 50_000);
    expect(t.current).toBe(69_999); // p1 joins behind W: W does not go back
    t.observe('p0', 200_000);
    expect(t.current).toBe(69_999); // the minimum is p1's 19 999, but W never goes back
    t.observe('p1', 150_000);
    expect(t.current).toBe(119_999);
  });

  it('a source registered as not idle holds W until it delivers or goes idle', () => {
    const t = new WatermarkTracker(0);
    t.addSources([{ source: 'a', idle: false }, { source: 'b', idle: false }]);
    t.observe('a', 1_000);
    expect(t.current).toBe(-Infinity);
    t.setIdle('b', true);
    expect(t.current).toBe(999);
    t.observe('b', 500); // wakes up behind W: W stays
    expect(t.current).toBe(999);
  });

  it('restoring several sources at once takes their minimum (one at a time would jump to the first)', () => {
    const t = new WatermarkTracker(0);
    t.addSources([{ source: 'a', idle: false, watermark: 5_000 }, { source: 'b', idle: false, watermark: 1_000 }]);
    expect(t.current).toBe(1_000);
  });

  it('snapshots and restores through JSON', () => {
    const t = new WatermarkTracker(10);
    t.addSource('quiet');
    t.observe('busy', 1_000);
    const back = WatermarkTracker.restore(10, JSON.parse(JSON.stringify(t.snapshot())));
    expect(back.current).toBe(989);
    expect(back.isIdle('quiet')).toBe(true);
    back.finish();
    expect(back.current).toBe(Infinity);
  });
});
