import { STREAM_WAIT_DEFAULTS, type StreamWaitSettings } from '../jobs/stream-wait.ts';
import { boundedDuration, duration, layered, readConfigFile } from './layered-settings.ts';

/** How the nightly reconcile jobs wait for a stream behind their day: config file key, environment variable, flag (cli/layered-settings.ts). */
export const NIGHTLY_WAIT_SETTINGS = {
  maxWaitMs: duration('nightlyMaxWait', 'CONCORD_NIGHTLY_MAX_WAIT', 'nightly-max-wait'),
  // A recheck of 0 would start the waiting job again at once, over and over.
  recheckMs: boundedDuration('nightlyRecheck', 'CONCORD_NIGHTLY_RECHECK', 'nightly-recheck', { min: 100, use: '100ms or more (e.g. 5m)' }),
};

/**
 * The worker's wait for the stream (jobs/stream-wait.ts), layered as the other settings: config file
 * (`nightlyMaxWait`, `nightlyRecheck`) < environment (CONCORD_NIGHTLY_MAX_WAIT, CONCORD_NIGHTLY_RECHECK)
 * < flags (--nightly-max-wait, --nightly-recheck); unset: 6h, every 5m.
 */
export function loadNightlyWait(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): StreamWaitSettings {
  return { ...STREAM_WAIT_DEFAULTS, ...layered(NIGHTLY_WAIT_SETTINGS, flags, env, readConfigFile(flags, env)) };
}

export const nightlyWaitFlags = { 'nightly-max-wait': { type: 'string' }, 'nightly-recheck': { type: 'string' } } as const;

export const nightlyWaitOptions = [
  '--nightly-max-wait D       worker: the longest a nightly reconcile waits for a stream behind its day (its watermark',
  '                           short of the day\'s end), then reconciles with a note (default 6h; 0: never waits; a',
  '                           job enqueued by hand never waits, nor one whose stream\'s bounded input ended there:',
  '                           `stream --input`, `run --stop-when-idle`); env CONCORD_NIGHTLY_MAX_WAIT, config nightlyMaxWait',
  '--nightly-recheck D        worker: how often a waiting nightly reconcile looks again (default 5m);',
  '                           env CONCORD_NIGHTLY_RECHECK, config nightlyRecheck',
];
