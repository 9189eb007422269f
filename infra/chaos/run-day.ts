/**
 * One seeded day through the real CLI: produce -> two workers (one group, each a merge member) + archivers + sink
 * -> PostgreSQL -> the nightly job (BullMQ) -> reconcile; with a fault plan, faults at seeded random moments.
 */
import pg from 'pg';
import { brokerStop, brokerUp, fillDisk, freeDisk, terminateBackends, type BrokerConfig, type OwnRedis } from './own-infra.ts';
import { committedOffsets, endOffsets } from '../../stream/kafka/client.ts';
import { InputFeed } from './input-feed.ts';
import { Role, runToEnd, sleep, type Logs } from './procs.ts';

export type Fault = 'worker-kill' | 'zombie' | 'broker' | 'archiver-kill' | 'disk-full' | 'sink-kill' | 'redis' | 'pg-drop';

export interface FaultPlan { counts: Record<Fault, number>; skipped: Partial<Record<Fault, string>> }

export interface FaultOutcome { injected: number; recovered: boolean; note: string }

export interface DayConfig {
  label: string;
  prefix: string;
  broker: BrokerConfig;
  redis: OwnRedis;
  store: string;
  database: string;
  archive: string;
  date: string;
  seed: number;
  clicks: number;
  transactions: number;
  logs: Logs;
  plan: FaultPlan | null;
  rng: () => number;
  say: (s: string) => void;
  /** Give up waiting for the stream phase after this long. */
  deadlineMs: number;
}

/** The faults injected while the stream runs, in the order the plan takes one of each first. */
const STREAM_FAULTS = ['worker-kill', 'archiver-kill', 'sink-kill', 'disk-full', 'broker', 'zombie'] as const;

/** The workers' default session timeout (stream/kafka/consume-options.ts): a zombie is paused longer than this. */
const SESSION_TIMEOUT_MS = Number(process.env.CONCORD_KAFKA_SESSION_TIMEOUT_MS ?? 10_000);

export async function runDay(c: DayConfig): Promise<Map<Fault, FaultOutcome>> {
  const outcomes = new Map<Fault, FaultOutcome>();
  const env = {
    KAFKA_BROKERS: `127.0.0.1:${c.broker.port}`, CONCORD_TOPIC_PREFIX: c.prefix,
    // Small fetches: many small transactions, so a kill lands in the middle of the work.
    CONCORD_KAFKA_MAX_BYTES_PER_PARTITION: '8192',
  };
  // With faults, the clicks go out in one slice per planned stream fault (and one more), one after each
  // injection (input-feed.ts); the first slice before the workers start (it creates the topics).
  const planned = c.plan ? STREAM_FAULTS.reduce((n, f) => n + (c.plan!.skipped[f] ? 0 : c.plan!.counts[f]), 0) : 0;
  const feed = InputFeed.write(c, env, planned + 1);
  await feed.sendNext();
  c.say(`${c.label}: generated ${c.clicks} clicks and ${c.transactions} transactions (seed ${c.seed}, ${c.date}); sending them in ${planned + 1} slice(s)`);

  const always = () => true;
  const drainWorker = new Role(`${c.label}-worker-drain`, ['run', '--pipeline', 'all', '--worker-id', 'a', '--stop-when-idle', '3s'], env, c.logs, always);
  // The two group members run until the input is consumed; then they stop (SIGTERM) and one member drains
  // (W = +infinity fires every open window) and exits: the same ending for the fault-free and the faulty run.
  const workers = ['a', 'b'].map((id) => new Role(`${c.label}-worker-${id}`, ['run', '--pipeline', 'all', '--worker-id', id], env, c.logs, () => false));
  const archivers = ['clicks', 'transactions'].map((schema) => new Role(`${c.label}-archive-${schema}`,
    ['archive', '--schema', schema, '--from-kafka', '--dir', c.archive, '--stop-when-idle', '3s', '--flush-records', '1000'], env, c.logs, () => feed.done));
  const sink = new Role(`${c.label}-sink`, ['sink', '--from-kafka', '--store', c.store, '--stop-when-idle', '3s'], env, c.logs, () => drainWorker.finished);
  const roles = [...workers, ...archivers, sink];
  for (const r of roles) r.start();

  const started = Date.now();
  const kafka = { brokers: [env.KAFKA_BROKERS], clientId: 'concord-chaos' };
  let consumed = false;
  // What the last look at the groups' offsets found: a run that times out says where it stood (CI keeps no logs).
  let consumption = 'not looked at yet';
  const inputConsumed = async () => {
    if (consumed) return true;
    if (!feed.done) return false;
    const behind: string[] = [];
    for (const schema of ['clicks', 'transactions']) {
      const topic = `${c.prefix}${schema}`;
      const [end, done] = await Promise.all([endOffsets(kafka, topic), committedOffsets(kafka, `${c.prefix}concord-${schema}`, topic)]);
      for (const [p, n] of end) if ((done.get(p) ?? 0) < n) behind.push(`${schema}:${p} committed ${done.get(p) ?? 'none'} of ${n}`);
    }
    consumption = behind.length > 0 ? `behind: ${behind.join(', ')}` : 'every partition committed to its end';
    return behind.length === 0 && (consumed = true);
  };
  const lookedAt = () => inputConsumed().catch((error: unknown) => {
    consumption = `reading the offsets failed: ${error instanceof Error ? error.message : String(error)}`;
    return false;
  });
  const check = (what: string) => {
    const fatal = [...roles, drainWorker].find((r) => r.fatal !== null);
    if (fatal) throw new Error(`${c.label}: ${fatal.name} exited 2 (a usage error, not a fault): ${fatal.fatal}`);
    if (Date.now() - started > c.deadlineMs) {
      const running = [...roles, drainWorker].filter((r) => r.current?.running);
      for (const r of [...roles, drainWorker]) r.stop();
      throw new Error(`${c.label}: ${what} did not happen within ${c.deadlineMs / 1000} s (still running: ${running.map((r) => r.name).join(', ')}); `
        + `input ${consumption}; logs in ${c.logs.dir}${running.map((r) => `\n--- last lines of ${r.name}:\n${c.logs.tail(r.name, 12)}`).join('')}`);
    }
  };
  if (c.plan) await injectStreamFaults(c, { workers, archivers, sink }, feed, outcomes, lookedAt);
  await feed.sendRest();
  while (!(await lookedAt())) { check('consuming the input'); await sleep(500); }
  await Promise.all(workers.map(async (w) => {
    const p = w.current;
    w.stop('SIGTERM');
    const t = setTimeout(() => p?.signal('SIGKILL'), 30_000);
    await p?.exited;
    clearTimeout(t);
    w.finished = true;
  }));
  drainWorker.start();
  roles.push(drainWorker);
  while (!roles.every((r) => r.finished)) { check('the drain and the sink'); await sleep(200); }
  const restarts = roles.map((r) => `${r.name.slice(c.label.length + 1)} x${r.incarnations}${r.unplannedExits ? ` (${r.unplannedExits} crashed)` : ''}`).join(', ');
  c.say(`${c.label}: stream phase done in ${((Date.now() - started) / 1000).toFixed(0)} s; incarnations: ${restarts}`);
  for (const [fault, roleList] of [['worker-kill', [drainWorker]], ['zombie', [drainWorker]], ['broker', roles], ['archiver-kill', archivers], ['disk-full', archivers], ['sink-kill', [sink]]] as const) {
    const o = outcomes.get(fault);
    if (o) o.recovered = roleList.every((r) => r.finished);
  }

  // The reconcile whose day switch loses its connections first: after the nightly job had reconciled the
  // day, its identical replay switches nothing (a reconcile publishes no version the live one already
  // holds), and the drops found no switch to hit.
  await reconcileWithDrops(c, env, outcomes);
  await nightlyJob(c, env, outcomes);
  return outcomes;
}

interface StreamRoles { workers: Role[]; archivers: Role[]; sink: Role }

/** Injects the stream faults in a seeded order at seeded moments while the stream phase runs. */
async function injectStreamFaults(c: DayConfig, r: StreamRoles, feed: InputFeed, outcomes: Map<Fault, FaultOutcome>, inputConsumed: () => Promise<boolean>): Promise<void> {
  // One of each kind first (the short ones before the broker and the zombie, which take seconds), then the
  // repeats, each part in a seeded order: every fault lands while there is still work to hit.
  const kinds = STREAM_FAULTS.filter((f) => !c.plan!.skipped[f] && c.plan!.counts[f] > 0);
  for (const f of ['worker-kill', 'zombie', 'broker', 'archiver-kill', 'disk-full', 'sink-kill'] as const) outcomes.set(f, { injected: 0, recovered: false, note: c.plan!.skipped[f] ?? '' });
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(c.rng() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const repeats = kinds.flatMap((f) => Array.from({ length: c.plan!.counts[f] - 1 }, () => f));
  const plan: Fault[] = [...shuffle(kinds.slice(0, 4)), ...kinds.slice(4), ...shuffle(repeats)];
  const hit = (f: Fault, note?: string) => {
    const o = outcomes.get(f)!;
    o.injected++;
    if (note) o.note = note;
    c.say(`${c.label}: injected ${f} #${o.injected}${note ? ` (${note})` : ''}`);
  };
  const live = (roles: Role[]) => roles.filter((x) => x.current?.running && Date.now() - x.current.startedAt > 1_000);
  let deferred = 0;
  while (plan.length > 0 && !(await inputConsumed())) {
    await sleep(150 + Math.floor(c.rng() * 600));
    const f = plan[0]!;
    const pick = (roles: Role[]) => { const l = live(roles); return l.length ? l[Math.floor(c.rng() * l.length)]! : null; };
    let applied = true;
    switch (f) {
      case 'worker-kill': case 'archiver-kill': case 'sink-kill': {
        const role = pick(f === 'worker-kill' ? r.workers : f === 'archiver-kill' ? r.archivers : [r.sink]);
        if (role) { role.kill('SIGKILL'); hit(f, role.name.slice(c.label.length + 1)); } else applied = false;
        break;
      }
      case 'zombie': {
        const role = pick(r.workers);
        if (!role) { applied = false; break; }
        const p = role.current!;
        p.signal('SIGSTOP');
        hit(f, `SIGSTOP ${role.name.slice(c.label.length + 1)} for ${(SESSION_TIMEOUT_MS + 4_000) / 1000} s (session timeout ${SESSION_TIMEOUT_MS / 1000} s), then SIGCONT`);
        await sleep(SESSION_TIMEOUT_MS + 4_000);
        p.signal('SIGCONT');
        break;
      }
      case 'broker': {
        await brokerStop(c.broker);
        hit(f);
        await sleep(2_000);
        await brokerUp(c.broker, c.say);
        break;
      }
      case 'disk-full': {
        const filler = fillDisk(c.archive);
        hit(f, 'archive tmpfs filled for 4 s');
        await sleep(4_000);
        freeDisk(filler);
        break;
      }
      default: break;
    }
    if (applied || ++deferred > 20) {
      plan.shift();
      deferred = 0;
      await feed.sendNext(); // the next fault meets new work
    }
  }
  for (const f of new Set(plan)) {
    const o = outcomes.get(f)!;
    o.note = `${o.note ? `${o.note}; ` : ''}the stream phase ended before ${plan.filter((x) => x === f).length} planned injection(s)`;
  }
}

/** The nightly job: `concord jobs worker` + `jobs enqueue --date D --wait`, with Redis stopped and restarted mid-job. */
async function nightlyJob(c: DayConfig, env: Record<string, string>, outcomes: Map<Fault, FaultOutcome>): Promise<void> {
  const jenv = { ...env, REDIS_URL: c.redis.url, CONCORD_QUEUE_PREFIX: `${c.prefix}q`, CONCORD_JOB_BACKOFF_MS: '1000', CONCORD_REDIS_TIMEOUT_MS: '10000' };
  const worker = new Role(`${c.label}-jobs-worker`, ['jobs', 'worker', '--archive', c.archive, '--store', c.store, '--report-dir', `${c.logs.dir}/${c.label}-reports`], jenv, c.logs, () => false);
  worker.start();
  await sleep(1_500);
  const planned = c.plan?.counts.redis ?? 0;
  const o: FaultOutcome = { injected: 0, recovered: false, note: c.plan?.skipped.redis ?? '' };
  const enqueue = runToEnd(`${c.label}-jobs-enqueue`, ['jobs', 'enqueue', '--date', c.date, '--wait'], jenv, c.logs);
  for (let i = 0; i < planned; i++) {
    await sleep(300 + Math.floor(c.rng() * 1_500));
    await c.redis.stop();
    o.injected++;
    c.say(`${c.label}: injected redis #${o.injected} (stopped during the nightly job)`);
    await sleep(2_000);
    await c.redis.start();
  }
  let r = await enqueue;
  // A waiting enqueue that lost Redis may give up; asking again (same job ids) must find the job's outcome.
  // A job that ran and refused to publish unexplained differences is an outcome (counted in the table), not a lost job.
  const ran = (x: { code: number | null; output: string }) => x.code === 0 || /differences are UNEXPLAINED/.test(x.output);
  for (let attempt = 0; !ran(r) && attempt < 3; attempt++) {
    c.say(`${c.label}: jobs enqueue --wait exited ${r.code}; asking again`);
    r = await runToEnd(`${c.label}-jobs-enqueue`, ['jobs', 'enqueue', '--date', c.date, '--wait'], jenv, c.logs);
  }
  worker.stop();
  o.recovered = ran(r);
  if (!ran(r)) o.note = `${o.note ? `${o.note}; ` : ''}jobs enqueue --wait still exited ${r.code}: ${r.output.trim().split('\n').slice(-2).join(' / ')}`;
  if (c.plan) outcomes.set('redis', o);
  c.say(`${c.label}: nightly job ${r.code === 0 ? 'completed' : ran(r) ? 'ran and refused to publish unexplained differences' : `failed (exit ${r.code})`}`);
}

/** `concord reconcile --date D` publishing the day while the writer's PostgreSQL connections are terminated. */
async function reconcileWithDrops(c: DayConfig, env: Record<string, string>, outcomes: Map<Fault, FaultOutcome>): Promise<void> {
  const planned = c.plan?.counts['pg-drop'] ?? 0;
  const o: FaultOutcome = { injected: 0, recovered: true, note: '' };
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  await admin.connect();
  try {
    for (let round = 0; round < Math.max(1, planned); round++) {
      const args = ['reconcile', '--date', c.date, '--store', c.store, '--archive', c.archive, '--job-id', `chaos-switch-${round}`, '--report-dir', `${c.logs.dir}/${c.label}-reports`];
      const run = runToEnd(`${c.label}-reconcile`, args, env, c.logs);
      let finished = false;
      void run.then(() => { finished = true; });
      if (round < planned) {
        // Wait for the day switch (the publish transaction writes day_versions / the rows), then drop its connections.
        while (!finished) {
          const n = await terminateBackends(admin, c.database, /day_versions|INSERT INTO|ON CONFLICT|live_days|day_live/i);
          if (n > 0) { o.injected++; c.say(`${c.label}: injected pg-drop #${o.injected} (terminated ${n} connection(s) of the writer)`); break; }
          await sleep(10);
        }
      }
      let r = await run;
      for (let attempt = 0; r.code !== 0 && r.code !== 3 && attempt < 3; attempt++) {
        c.say(`${c.label}: reconcile exited ${r.code} (${r.output.trim().split('\n').at(-1)}); running it again`);
        r = await runToEnd(`${c.label}-reconcile`, args, env, c.logs);
      }
      if (r.code !== 0) { o.recovered = false; o.note = `reconcile exited ${r.code}: ${r.output.trim().split('\n').at(-1)}`; }
    }
  } finally {
    await admin.end();
  }
  if (c.plan) outcomes.set('pg-drop', o);
}
