import { HyperLogLog } from '../pipeline/hyperloglog.ts';

export interface SketchMemory {
  distinct: number;
  windows: number;
  hllBytes: number;
  hllSerializedBytes: number;
  setBytes: number;
  meanErrorPct: number;
  maxErrorPct: number;
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Per window of `distinct` visitors: the sketch Concord keeps (2^14 one-byte registers) and its
 * serialised form (checkpoints, partials), against an exact Set of the visitor ids (heap measured with
 * --expose-gc), and the estimate's error over `windows` windows of different visitors.
 */
export function sketchMemory(distinct: number, windows: number): SketchMemory {
  let err = 0, maxErr = 0, serialized = 0;
  for (let w = 0; w < windows; w++) {
    const hll = new HyperLogLog(14);
    for (let i = 0; i < distinct; i++) hll.add(`w${w}-v${i}`);
    const e = Math.abs(hll.estimate() - distinct) / distinct;
    err += e;
    maxErr = Math.max(maxErr, e);
    serialized += hll.serialize().length;
  }
  const before = heapUsed();
  const set = new Set<string>();
  for (let i = 0; i < distinct; i++) set.add(`w0-v${i}`);
  const setBytes = Math.max(0, heapUsed() - before);
  if (set.size !== distinct) throw new Error('set size');
  return {
    distinct, windows, hllBytes: 2 ** 14, hllSerializedBytes: Math.round(serialized / windows), setBytes,
    meanErrorPct: (100 * err) / windows, maxErrorPct: 100 * maxErr,
  };
}

export function sketchMarkdown(rows: readonly SketchMemory[]): string {
  return [
    '| distinct visitors per window | windows | HLL in memory | HLL serialised | exact Set (heap) | mean error | max error |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.distinct.toLocaleString('en-US')} | ${r.windows} | ${(r.hllBytes / 1024).toFixed(1)} KiB | ${(r.hllSerializedBytes / 1024).toFixed(1)} KiB | ${(r.setBytes / 1024).toFixed(0)} KiB | ${r.meanErrorPct.toFixed(2)}% | ${r.maxErrorPct.toFixed(2)}% |`),
  ].join('\n');
}
