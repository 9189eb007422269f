import type { FileSpan } from './archive-offsets.ts';

/** An archive file's events of one source that may be late, and the W its partition reached before the file's first offset. */
export interface OpenPart {
  readonly file: string;
  readonly source: string;
  /** Max of ts - B - 1 over the source's events of the files wholly before this one in offset order (-Infinity: none). */
  readonly seed: number;
}

/**
 * Which files to read to find every event that met its partition's W at or above its time (the late
 * candidates of `readLateCandidates`), from each file's spans per source (batch/archive-offsets.ts)
 * instead of reading every file. W before offset o is the max of ts - B - 1 over the partition's events
 * of smaller offsets, the file's own and the others'. So a file f holds a candidate only if
 * - its own events do (its disorder is over B), or
 * - the max of maxTs - B - 1 over the other files starting before f's last offset reaches f's earliest
 *   time; otherwise it is not judged (not `open`).
 * For an event of an open f, W is the max of (a) the files wholly before f, their latest times alone
 * (`seed`), and (b) the events of the files whose offsets overlap f's, read with it (`read`); files
 * wholly after f hold no smaller offset. So judged over `read` with each part's seed, the candidates
 * and the W each met are the whole archive's (test/property/late-candidate-files.test.ts).
 */
export function lateCandidateFiles(spans: ReadonlyMap<string, Readonly<Record<string, FileSpan>>>, maxOutOfOrderness: number): { read: string[]; open: OpenPart[] } {
  const B = Math.trunc(maxOutOfOrderness);
  const bySource = new Map<string, Part[]>();
  for (const [file, sources] of spans) {
    for (const [source, span] of Object.entries(sources)) {
      let list = bySource.get(source);
      if (!list) bySource.set(source, (list = []));
      list.push({ file, span });
    }
  }
  const read = new Set<string>(), open: OpenPart[] = [];
  for (const [source, parts] of [...bySource].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const byFirst = [...parts].sort((a, b) => a.span[0] - b.span[0]);
    const byLast = [...parts].sort((a, b) => a.span[1] - b.span[1]);
    const topByFirst = prefixTop2(byFirst);
    const latestByLast = prefixMax(byLast.map((p) => p.span[3]));
    for (const p of parts) {
      const [first, last, earliest, , disorder] = p.span;
      const startingBefore = countBelow(byFirst, (q) => q.span[0] < last);
      const top = startingBefore === 0 ? undefined : topByFirst[startingBefore - 1]!;
      const othersLatest = top === undefined ? Number.NEGATIVE_INFINITY : top.first === p ? top.second : top.firstTs;
      if (disorder < B + 1 && othersLatest - B - 1 < earliest) continue;
      const wholly = countBelow(byLast, (q) => q.span[1] < first);
      open.push({ file: p.file, source, seed: wholly === 0 ? Number.NEGATIVE_INFINITY : latestByLast[wholly - 1]! - B - 1 });
      for (const q of byFirst) {
        if (q.span[0] > last) break;
        if (q.span[1] >= first) read.add(q.file);
      }
    }
  }
  return { read: [...read].sort(), open };
}

type Part = { file: string; span: FileSpan };

/** Per prefix of `parts`: its latest time, the part holding it, and the latest time of the others. */
function prefixTop2(parts: readonly Part[]): { first: Part; firstTs: number; second: number }[] {
  const out: { first: Part; firstTs: number; second: number }[] = [];
  for (const p of parts) {
    const prev = out.at(-1), ts = p.span[3];
    if (!prev) out.push({ first: p, firstTs: ts, second: Number.NEGATIVE_INFINITY });
    else if (ts > prev.firstTs) out.push({ first: p, firstTs: ts, second: prev.firstTs });
    else out.push({ ...prev, second: Math.max(prev.second, ts) });
  }
  return out;
}

function prefixMax(values: readonly number[]): number[] {
  const out: number[] = [];
  for (const v of values) out.push(Math.max(out.at(-1) ?? Number.NEGATIVE_INFINITY, v));
  return out;
}

/** How many leading items of `sorted` satisfy `below` (true then false along the list). */
function countBelow<T>(sorted: readonly T[], below: (item: T) => boolean): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (below(sorted[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
