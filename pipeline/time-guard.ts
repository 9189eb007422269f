import { formatDuration, isoMillis, type Millis } from './time.ts';

/** Events more than this ahead of their reference are quarantined unless a schema says otherwise. */
export const DEFAULT_MAX_FUTURE_SKEW: Millis = 3_600_000;

export type TimeVerdictReason = 'future_timestamp' | 'past_horizon';

/** Why an event was kept out of every count, and what it was judged against. */
export interface TimeVerdict {
  readonly reason: TimeVerdictReason;
  /** Epoch ms the event time was compared with. */
  readonly reference: number;
  readonly basis: 'record timestamp' | 'wall clock';
  readonly detail: string;
}

export interface TimeGuardSettings {
  /** max_future_skew (ms); +Infinity: off. */
  readonly maxFutureSkewMs: number;
  /** past_horizon (ms); +Infinity: off. */
  readonly pastHorizonMs: number;
}

/**
 * Quarantines events whose clock lies, before they reach any operator or the archive, so one event
 * stamped in 2100 cannot drag the watermark there. The reference is when the event entered the system:
 * - the record's own timestamp where there is one (Kafka: the producer's or the broker's clock, kept
 *   in the archive as `_ingest`), so the workers and the archiver judge each record alike;
 * - otherwise (a file) the wall clock when the line is read.
 * Not the input's own progress: after a quiet hour a legitimate event would look "ahead", and every
 * later one with it. Nothing that has already happened is ever ahead of the clock, so historical data,
 * gaps and backfills pass; only times ahead of when they were read are held.
 */
export class TimeGuard {
  constructor(private readonly settings: TimeGuardSettings, private readonly now: () => number = Date.now) {}

  /** null: the event is accepted; otherwise why it is quarantined. */
  judge(eventTime: number, recordTime?: number): TimeVerdict | null {
    const { maxFutureSkewMs: ahead, pastHorizonMs: behind } = this.settings;
    if (ahead === Infinity && behind === Infinity) return null;
    const byRecord = recordTime !== undefined && Number.isFinite(recordTime) && recordTime > 0;
    const reference = byRecord ? recordTime : this.now();
    const basis = byRecord ? 'record timestamp' : 'wall clock';
    if (eventTime - reference > ahead) {
      return { reason: 'future_timestamp', reference, basis, detail: `event time ${iso(eventTime)} is more than max_future_skew ${formatDuration(ahead)} ahead of the ${basis} ${isoMillis(reference)}` };
    }
    if (reference - eventTime > behind) {
      return { reason: 'past_horizon', reference, basis, detail: `event time ${iso(eventTime)} is more than past_horizon ${formatDuration(behind)} behind the ${basis} ${isoMillis(reference)}` };
    }
    return null;
  }
}

const iso = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? isoMillis(ms) : String(ms));

/** The settings of a schema: off where the schema does not say (code-built schemas in tests). */
export function timeGuardSettings(schema: { readonly maxFutureSkewMs?: number; readonly pastHorizonMs?: number }): TimeGuardSettings {
  return { maxFutureSkewMs: schema.maxFutureSkewMs ?? Infinity, pastHorizonMs: schema.pastHorizonMs ?? Infinity };
}
