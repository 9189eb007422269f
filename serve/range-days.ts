import type { PipelineDefinition } from '../pipeline/definition.ts';
import { dayStatusOf, isSealed, streamReached, versionsOfDay } from '../store/day-status.ts';
import { daysWithRows, type DayState, type StoreSnapshot, type VersionSelector } from '../store/store-snapshot.ts';
import { DAY, dayOfMs, dayStartOf } from './params.ts';

/**
 * The UTC days of a /windows, /top or /alerts range as the rows' reader needs them: which version the
 * rows come from and what that version is. Before 2026-12-07 a day the store held nothing of answered
 * `rows: []` as a day of no traffic would, and a day still provisional (the stream's numbers) read like
 * a reconciled one unless each row's `generation` was looked at.
 */
export interface RangeDay {
  date: string;
  /** provisional, reconciled or sealed, now (store/day-status.ts), as /api/days says. */
  status: string;
  live_version: number;
  /** The version the day's rows of this answer come from: the live one, the one asked for, or the one live at asOf; null: the day has no such version. */
  version: number | null;
  /** The store holds no row of the pipeline for the day, in any version: no rows is no data, not zeros (a rule: no alert and no reconciled version). */
  empty: boolean;
  /**
   * The pipeline's stream watermark reached the day (store/day-status.ts `streamReached`): false, an
   * empty day is no data yet (the stream has not got there, or no stream wrote the pipeline), not a day
   * without traffic, though its status says `provisional`.
   */
  stream_reached: boolean;
  /** Set when the store's retention deleted the day. */
  pruned_at?: string;
}

/** At most the 31 (+1) days of a range: a query of the day states (the days with rows among them), then one per day only for asOf and empty days. */
export async function rangeDays(s: StoreSnapshot, def: PipelineDefinition, range: { from: number; to: number }, version: VersionSelector, sealDelayMs: number): Promise<RangeDay[]> {
  const fromDay = dayOfMs(range.from), toDay = dayOfMs(Math.max(range.from, range.to - 1));
  const [states, watermarks] = await Promise.all([s.dayStates(def.name, fromDay, toDay), s.watermarks()]);
  const withRows = daysWithRows(states);
  const out: RangeDay[] = [];
  for (let t = dayStartOf(fromDay); t <= dayStartOf(toDay); t += DAY) {
    const date = dayOfMs(t);
    const st = states.get(date) ?? { liveGeneration: 0, generations: [], reconciliations: [], streamRows: false };
    const w = watermarks.get(def.name);
    const sealed = isSealed(date, w, sealDelayMs, def.kind === 'windowed' ? def.window : undefined);
    const empty = !withRows.has(date);
    const prunedAt = empty ? await s.store.prunedAt(def.name, date) : null;
    out.push({
      date, status: dayStatusOf({ sealed, liveGeneration: st.liveGeneration }), live_version: st.liveGeneration,
      version: empty ? null : await versionOf(s, def.name, date, st, version), empty, stream_reached: streamReached(date, w),
      ...(prunedAt === null ? {} : { pruned_at: new Date(prunedAt).toISOString() }),
    });
  }
  return out;
}

/** null: the day has no such version (version 0 of a day the stream never wrote: day-status.ts `versionsOfDay`). */
async function versionOf(s: StoreSnapshot, pipeline: string, day: string, st: DayState, v: VersionSelector): Promise<number | null> {
  if (v === 'live') return st.liveGeneration;
  const has = (g: number) => (versionsOfDay(st).includes(g) ? g : null);
  if (typeof v === 'number') return has(v);
  // As store-reads.ts asOfRows: the version of the last switch by then, else the stream's.
  const switches = await s.switches(pipeline, { day, limit: 10_000 });
  return has(switches.filter((x) => x.at <= v.asOf).at(-1)?.generation ?? 0);
}

/** The answer's schema of `days` (routes without it in their schema would have it dropped from the JSON). */
export const rangeDaysSchema = {
  type: 'array',
  description: 'each UTC day of the range: its status now, its live version, the version its rows here come from, `empty` when the store holds no row of the day (no rows then means no data, not zeros), ' +
    'and `stream_reached`: whether the stream\'s watermark reached the day (false: an empty day is no data yet, not a day without traffic, though its status says provisional)',
  items: {
    type: 'object',
    properties: {
      date: { type: 'string' }, status: { type: 'string', enum: ['provisional', 'reconciled', 'sealed'] }, live_version: { type: 'integer' },
      version: { type: ['integer', 'null'] }, empty: { type: 'boolean' }, stream_reached: { type: 'boolean' }, pruned_at: { type: 'string' },
    },
  },
} as const;
