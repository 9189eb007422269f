import { resolve } from 'node:path';
import { ConfigError } from '../../pipeline/errors.ts';
import { shellWord } from '../../pipeline/names.ts';
import { ProgressLine } from '../../pipeline/progress-line.ts';
import { parseDuration } from '../../pipeline/time.ts';
import type { Registry } from '../../pipeline/registry.ts';
import { backfillDays } from '../../jobs/backfill-days.ts';
import { jobId } from '../../jobs/job-ids.ts';
import { attemptsOf, type ConcordJobs } from '../../jobs/job-queue.ts';
import { storeIdentity } from '../../jobs/worker-registry.ts';
import { openStore } from '../../store/open-store.ts';
import { redact, StoreBusyError } from '../../store/sql-driver.ts';
import type { FlagValues } from '../args.ts';
import { storeUrl } from './shared.ts';

// `concord jobs enqueue` and `concord jobs backfill`: put jobs on the queue, say what became of each.

/**
 * Enqueues reconcile jobs and says what became of each: a new job waits; a job id that exists already
 * is not enqueued again (BullMQ keeps ids unique), so a failed or completed one is reported with how to
 * run it again. Exit 1 when a failed job was left as it is.
 */
export async function enqueue(jobs: ConcordJobs, v: FlagValues): Promise<number> {
  const date = String(v.date);
  const pipeline = v.pipeline === undefined ? undefined : String(v.pipeline);
  const deadline = waitDeadline(v);
  const explicitStore = v.store !== undefined || process.env.CONCORD_STORE !== undefined;
  const store = explicitStore ? await agreedStore(jobs, v, false) : undefined;
  const force = v.force === true;
  const before = force ? [] : await jobs.current(jobs.pipelineList(pipeline).map((p) => jobId('reconcile', p, date)));
  const added = await jobs.enqueueReconcile(date, pipeline, force, { ...(v['allow-empty'] ? { allowEmpty: true } : {}), ...(store ? { store } : {}) });
  let failedLeft = 0;
  const toWait: string[] = [];
  const select = `--date ${date}${pipeline ? ` --pipeline ${shellWord(pipeline)}` : ''}`;
  const rerun = `concord jobs enqueue ${select}${rerunOptions(v)} --force`;
  if (!explicitStore && (await jobs.workers()).length === 0) process.stderr.write(`concord jobs: note: no worker runs on queue prefix ${jobs.settings.prefix}; the jobs wait for one (\`concord jobs worker\`)\n`);
  for (const job of added) {
    const id = String(job.id);
    const earlier = before.find((b) => b.id === id);
    if (earlier?.state === 'failed') {
      failedLeft++;
      process.stdout.write(`${id} failed earlier (attempts=${attemptsOf(earlier)}): ${earlier.failedReason ?? 'no reason recorded'}\n`);
      // A retry runs the job as it was enqueued: options given now (--allow-empty, --store) need a new job.
      process.stderr.write(`concord jobs: ${id} was not enqueued again: a job id runs once. Retry it as it was enqueued with \`concord jobs retry ${select}\`, or run a new job with this command's options by adding --force: \`${rerun}\`\n`);
    } else if (earlier?.state === 'completed' && store !== undefined && earlier.data.store !== undefined && earlier.data.store !== store) {
      // Job ids name (kind, pipeline, date), not the store: a day reconciled in another store is not done in this one.
      failedLeft++;
      process.stdout.write(`${id} completed earlier in ${earlier.data.store}, not in ${store}\n`);
      process.stderr.write(`concord jobs: ${id} ran for another store: run it for ${store} by adding --force: \`${rerun}\`\n`);
    } else if (earlier?.state === 'completed') {
      process.stdout.write(`${id} completed earlier: not run again (\`concord jobs enqueue ${select} --force\` reruns it)${earlier.result ? ` ${JSON.stringify(earlier.result)}` : ''}\n`);
    } else {
      process.stdout.write(`${id} ${earlier ? `${earlier.state} (already enqueued)` : await job.getState()}\n`);
      toWait.push(id);
    }
  }
  if (deadline === undefined) return failedLeft > 0 ? 1 : 0;
  const failed = await waitFor(jobs, toWait, deadline);
  return failed + failedLeft > 0 ? 1 : 0;
}

/**
 * Enqueues one backfill job per (pipeline, date) with dirty cells (or archive files written after the
 * day's last reconcile) and says what became of each. Exit 1 when a failed job was left as it is.
 * `dates`: the days of --from/--to, checked by the caller (cli/day-span-flags.ts).
 */
export async function backfill(jobs: ConcordJobs, v: FlagValues, registry: Registry, dates: readonly string[]): Promise<number> {
  const store = await agreedStore(jobs, v, true);
  const archiveDir = await backfillArchive(jobs, v);
  const opened = await openStore(storeUrl(v), { registry }).catch(async (error: unknown) => { throw await heldByWorker(jobs, store, error); });
  try {
    const startedAt = Date.now();
    const pending = (p: string, dates: readonly string[]) => backfillDays(opened, registry.pipeline(p), dates, archiveDir);
    const added = await jobs.enqueueBackfill(dates, v.pipeline === undefined ? undefined : String(v.pipeline), pending, store);
    if (added.length === 0) {
      process.stdout.write(archiveDir === undefined ? 'no dirty cells in that range: nothing to backfill\n'
        : 'no dirty cells and no archive files written after a reconcile in that range: nothing to backfill\n');
    }
    // A backfill id exists already when the same dirty cells were enqueued before: say what became of it.
    let failedLeft = 0;
    for (const earlier of await jobs.current(added.map((j) => String(j.id)))) {
      const before = (await jobs.queue.getJob(earlier.id))!.timestamp < startedAt;
      if (before && earlier.state === 'failed') {
        failedLeft++;
        process.stdout.write(`${earlier.id} failed earlier (attempts=${attemptsOf(earlier)}): ${earlier.failedReason ?? 'no reason recorded'}\n`);
        process.stderr.write(`concord jobs: ${earlier.id} was not enqueued again: a job id runs once. Retry it with \`concord jobs retry --date ${earlier.data.date ?? '?'} --pipeline ${shellWord(earlier.data.pipeline ?? '?')}\`\n`);
      } else {
        process.stdout.write(`${earlier.id} ${earlier.state}${before ? ' (already enqueued)' : ''}\n`);
      }
    }
    return failedLeft > 0 ? 1 : 0;
  } finally {
    await opened.close();
  }
}

/**
 * An embedded DuckDB store is held by the worker that writes it for the worker's whole life, so the
 * dirty cells `jobs backfill` reads cannot be read beside it: name the worker and the ways that work
 * (the bare lock error sent users looking for another process). Other errors are returned as they are.
 */
async function heldByWorker(jobs: ConcordJobs, store: string, error: unknown): Promise<unknown> {
  if (!store.startsWith('duckdb:') || !(error instanceof StoreBusyError)) return error;
  const holders = (await jobs.workers()).filter((w) => w.store === store);
  if (holders.length === 0) return error;
  return new ConfigError(
    `the job worker ${holders.map((w) => `${w.host}:${w.pid}`).join(', ')} holds the embedded DuckDB store ${store} while it runs: ` +
    'jobs backfill cannot read its dirty cells beside it. The nightly run enqueues the backfill of the date it reconciles itself; ' +
    `for other dates rerun a whole day with \`concord jobs enqueue --date D --force\`, or stop the worker (SIGTERM), ` +
    'run this command again and start the worker again; a store that several processes use at once needs PostgreSQL',
    { cause: error });
}

/**
 * The store the command means, checked against the workers registered on the queue: they must agree,
 * or the command refuses (a backfill computed from one store and run against another is wrong twice).
 */
async function agreedStore(jobs: ConcordJobs, v: FlagValues, usesDefault: boolean): Promise<string> {
  const mine = storeIdentity(storeUrl(v));
  const workers = await jobs.workers();
  const theirs = [...new Set(workers.map((w) => w.store))];
  const named = v.store !== undefined ? 'names' : process.env.CONCORD_STORE !== undefined ? 'names (env CONCORD_STORE)' : usesDefault ? 'would use (no --store given)' : 'names';
  if (theirs.some((s) => s !== mine)) {
    throw new ConfigError(
      `the worker${theirs.length > 1 ? 's' : ''} on queue prefix ${jobs.settings.prefix} write${theirs.length > 1 ? '' : 's'} ${theirs.join(' and ')}, but this command ${named} ${mine}: ` +
        'pass --store with the workers\' store (or env CONCORD_STORE), or run a worker with this store on another queue prefix (CONCORD_QUEUE_PREFIX)');
  }
  if (workers.length === 0) process.stderr.write(`concord jobs: note: no worker runs on queue prefix ${jobs.settings.prefix}; the jobs wait for one that writes ${mine}\n`);
  return mine;
}

/**
 * The archive `jobs backfill` looks in for files written after a day's last reconcile: --archive (or
 * env CONCORD_ARCHIVE_DIR), else the one the workers registered. None known: dirty cells only, said so.
 */
async function backfillArchive(jobs: ConcordJobs, v: FlagValues): Promise<string | undefined> {
  const given = v.archive ?? process.env.CONCORD_ARCHIVE_DIR;
  if (given !== undefined && String(given) !== '') return resolve(String(given));
  const registered = [...new Set((await jobs.workers()).flatMap((w) => (w.archive ? [w.archive] : [])))];
  if (registered.length > 1) {
    throw new ConfigError(`the workers on queue prefix ${jobs.settings.prefix} read different archives (${registered.join(' and ')}): say which with --archive DIR`);
  }
  if (registered.length === 0) {
    process.stderr.write('concord jobs: note: no --archive given and no worker registered one: only dirty cells are looked for, not archive files written after a reconcile\n');
  }
  return registered[0];
}

/**
 * The options of this command a rerun with --force repeats: --allow-empty, --store (password as `***`:
 * never written out) and --wait / --timeout.
 */
export function rerunOptions(v: FlagValues): string {
  return (v['allow-empty'] ? ' --allow-empty' : '') + (v.store !== undefined ? ` --store ${shellWord(redact(String(v.store)))}` : '') +
    (v.wait === true ? ' --wait' : '') + (v.timeout !== undefined ? ` --timeout ${shellWord(String(v.timeout))}` : '');
}

/**
 * `--wait [--timeout D]` (enqueue, retry), read before anything is enqueued: when the wait ends
 * (epoch ms; Infinity: no limit), or undefined when not asked to wait.
 */
export function waitDeadline(v: FlagValues): number | undefined {
  if (v.timeout !== undefined && v.wait !== true) throw new ConfigError('--timeout bounds --wait: add --wait, or leave --timeout out');
  if (v.wait !== true) return undefined;
  return v.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + parseDuration(String(v.timeout), '--timeout');
}

/**
 * Waits for each job to finish (completed, or failed after its last attempt) and prints its result;
 * returns how many failed. It polls the job's state: QueueEvents can miss a job that finishes while
 * its event stream is being set up, and a wait must not hang. At `deadline` it stops waiting and
 * counts the jobs not finished with the failed ones (they go on).
 */
export async function waitFor(jobs: ConcordJobs, ids: string[], deadline: number, pollMs = 500): Promise<number> {
  let failed = 0;
  // Long jobs show where they are: the state and progress, when they change.
  const progress = new ProgressLine((line) => process.stderr.write(`${line}\n`));
  for (const [i, id] of ids.entries()) {
    for (;;) {
      const [job] = await jobs.current([id]);
      if (!job) {
        failed++;
        process.stdout.write(`${id} is gone from the queue (removed?): its outcome is unknown\n`);
        break;
      }
      if (job.state === 'completed') {
        process.stdout.write(`${id} completed ${JSON.stringify(job.result ?? null)}\n`);
        break;
      }
      if (job.state === 'failed') {
        failed++;
        process.stdout.write(`${id} failed: ${job.failedReason ?? 'no reason recorded'}\n`);
        break;
      }
      if (Date.now() >= deadline) {
        // The jobs go on: only this wait ends (as `kubectl wait --timeout`).
        const left = ids.slice(i);
        process.stdout.write(`${id} ${job.state} after --timeout\n`);
        process.stderr.write(`concord jobs: --timeout passed with ${left.length} job(s) not finished (${left.join(', ')}); they go on: \`concord jobs status\` shows them\n`);
        return failed + left.length;
      }
      // Progress only of a running attempt, as `jobs status` shows it: a retried (or backed-off) job keeps
      // the progress its earlier attempt reached until a new attempt reports, and that line came first.
      const now = job.state === 'active' || (job.state === 'delayed' && job.data.streamWait) ? job.progress : undefined; // a stream wait says why
      progress.update(`${id} ${job.state}${now ? ` ${JSON.stringify(now)}` : ''}`, { key: id });
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  return failed;
}
