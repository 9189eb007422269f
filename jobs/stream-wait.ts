import { DelayedError, type Job } from 'bullmq';
import { formatDuration, isoMillis } from '../pipeline/time.ts';
import { describeStreamBehind, type StreamBehind } from '../store/day-status.ts';
import type { JobData } from './job-queue.ts';

/**
 * How a nightly reconcile job waits for a stream behind its day (a backlog after an outage, a replay of
 * old data from Kafka): the batch job's sensor, bounded. Read by `jobs worker` (cli/nightly-wait-config.ts).
 */
export interface StreamWaitSettings {
  /**
   * The longest a nightly reconcile waits for the stream, from its first check; then it reconciles what
   * is archived and its result says the stream was behind. 0: never waits.
   * @defaultValue 6 h (`nightlyMaxWait`, CONCORD_NIGHTLY_MAX_WAIT, --nightly-max-wait)
   */
  maxWaitMs: number;
  /**
   * How often a waiting job looks at the stream's watermark again (it is delayed in between: it holds
   * neither a worker's slot nor the day's lock).
   * @defaultValue 5 min (`nightlyRecheck`, CONCORD_NIGHTLY_RECHECK, --nightly-recheck)
   */
  recheckMs: number;
}

export const STREAM_WAIT_DEFAULTS: StreamWaitSettings = { maxWaitMs: 6 * 3_600_000, recheckMs: 5 * 60_000 };

/** What a reconcile job does about the stream: wait (checked again in `delayMs`, `why` shown), or go on (with a `note` when the stream is behind). */
export type StreamGate = { wait: true; delayMs: number; why: string } | { wait: false; note?: string };

/**
 * The decision for a reconcile job of a day the stream is `behind` of (undefined: not behind, or no stream
 * watermark at all). A nightly job (`waitForStream`) waits up to `maxWaitMs` from `since`, its first wait;
 * a job enqueued by hand does not wait (someone asked for it now) but notes what `reconcile --date` notes;
 * nor does one whose stream's bounded input ended (the store says so: store/input-ends.ts).
 */
export function streamGate(behind: StreamBehind | undefined, job: { waitForStream?: boolean; since?: number }, now: number, s: StreamWaitSettings): StreamGate {
  if (!behind) return { wait: false };
  if (!job.waitForStream) return { wait: false, note: describeStreamBehind(behind) };
  // A bounded run's input ended short of the day: nothing more is coming (Flink's final watermark).
  if (behind.inputEnded) return { wait: false, note: `reconciled without waiting for the stream (its input ended): ${describeStreamBehind(behind)}` };
  const since = job.since ?? now;
  const left = since + s.maxWaitMs - now;
  if (left <= 0) {
    const waited = s.maxWaitMs === 0 ? 'without waiting for the stream (nightly max wait 0)' : `after waiting ${formatDuration(s.maxWaitMs)} for the stream (the nightly max wait)`;
    return { wait: false, note: `reconciled ${waited}: ${describeStreamBehind(behind)}` };
  }
  return {
    wait: true, delayMs: Math.min(s.recheckMs, left),
    why: `waiting for the stream: watermark at ${isoMillis(behind.watermark)}, the day is final at ${isoMillis(behind.finalAt)}; ` +
      `checked again every ${formatDuration(s.recheckMs)}, reconciled anyway at ${isoMillis(since + s.maxWaitMs)} (nightly max wait ${formatDuration(s.maxWaitMs)})`,
  };
}

/**
 * Applies `streamGate` to a reconcile job: when it is to wait, records its first wait and how many checks
 * it waited (not attempts: `jobs status` leaves them out of `attempts=`), shows why as its progress, and
 * moves it to the delayed set (BullMQ's DelayedError: not a failure). Otherwise returns the note, if any.
 */
export async function waitForStream(job: Job<JobData>, token: string | undefined, behind: StreamBehind | undefined, now: number, s: StreamWaitSettings, log: (line: string) => void): Promise<string | undefined> {
  const waited = job.data.streamWait;
  const gate = streamGate(behind, { ...(job.data.waitForStream ? { waitForStream: true } : {}), ...(waited ? { since: waited.since } : {}) }, now, s);
  if (!gate.wait) {
    if (gate.note !== undefined) log(`${job.id}: ${gate.note}`);
    else if (waited) log(`${job.id}: the stream reached the day's end after ${waited.checks} check(s): reconciling`);
    return gate.note;
  }
  await job.updateData({ ...job.data, streamWait: { since: waited?.since ?? now, checks: (waited?.checks ?? 0) + 1 } });
  await job.updateProgress({ waiting: gate.why }).catch(() => undefined);
  log(`${job.id}: ${gate.why}`);
  await job.moveToDelayed(Date.now() + gate.delayMs, token);
  throw new DelayedError();
}
