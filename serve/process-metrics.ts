import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { ConfigError } from '../pipeline/errors.ts';

/**
 * What the long-running processes (`concord run` workers and the merge member, the archiver, `sink`,
 * `jobs worker`) report. The services take it as one optional `metrics` value and never import
 * prom-client; every method is cheap (a counter or a map update).
 */
export interface ProcessMetrics {
  /** Valid events a pipeline's operators received. */
  eventsIn(pipeline: string, n?: number): void;
  /**
   * Of those, the ones the pipeline's `where` left out: never late, never in a window. Events in minus
   * these is what the pipeline took, the base of its late ratio (a filter passing 5% of the events hid a
   * 10% late rate as 0.5% of events in).
   */
  eventsFiltered(pipeline: string, n?: number): void;
  /** Results written (worker: results and partials; merge: merged results). */
  eventsOut(pipeline: string, n?: number): void;
  /** Lines of an input that could not be decoded (dead letters). */
  deadLetters(input: string, n?: number): void;
  /** Events judged late (dropped, after the allowed lateness). */
  late(pipeline: string, n?: number): void;
  /**
   * Window assignments skipped as late (Flink's numLateRecordsDropped): a hopping window's event late for
   * some of its windows counts once per such window, also when newer windows took it (tumbling: = late).
   */
  lateWindowSkips(pipeline: string, n?: number): void;
  /** A watermark (event time, ms; non-finite: not reported); partition "all" is the pipeline's combined W. */
  watermark(pipeline: string, partition: string, w: number): void;
  /** Records of a partition not read yet (end offset - next offset). */
  consumerLag(topic: string, partition: number, lag: number): void;
  /** An input partition handed to another worker: its watermarks and consumer lag are that worker's to report. */
  partitionGone(topic: string, pipelines: readonly string[], partition: number): void;
  /** One Kafka transaction committed in `seconds`. */
  transactionCommit(seconds: number): void;
  /** Wall-clock seconds from the step in which the watermark passed a window's end to its result's commit. */
  windowEmitDelay(pipeline: string, seconds: number): void;
  /** Watermark alignment after a step: input partitions left out of fetches, and the event-time spread (ms) of the worker's partitions. */
  alignment(paused: number, spreadMs: number): void;
  /** A checkpoint written: its size (bytes of state) and how long taking it took. */
  checkpoint(bytes: number, seconds: number): void;
  /** State a pipeline's operators hold over the assigned partitions: open (window, key) cells, a rule's kept events. */
  stateEntries(pipeline: string, entries: number): void;
  /** Partitions restored from the checkpoints topic: how long (read and rebuild) and the bytes read (the whole topic, uncompacted tail included). */
  restore(seconds: number, bytesRead: number): void;
  /** Records written to the Parquet archive, and one flush's latency. */
  archived(topic: string, n: number, seconds: number): void;
  /** Rows written to the result store (kind: results | late), and one write's latency. */
  storeWrite(rows: { results: number; late: number }, seconds: number): void;
  /** A job ended (outcome: completed | failed | delayed) after `seconds`. */
  job(kind: string, outcome: string, seconds: number): void;
  /**
   * The labelled counters this process will count, listed at 0 from its start. A counter series that
   * first appears with its first increase is missed by rate() and increase() (Prometheus has no earlier
   * sample): the first burst of dead letters, late events or failed jobs raised no alert.
   */
  declare(series: DeclaredSeries): void;
  /** Runs before every scrape (e.g. to read end offsets for the consumer lag); errors are ignored. */
  beforeScrape(fn: () => Promise<void>): void;
}

/** What a process will count (ProcessMetrics.declare); each list is optional. */
export interface DeclaredSeries {
  /** Pipelines whose events in, results out and late events it counts. */
  pipelines?: readonly string[];
  /** Input schemas whose dead letters it counts. */
  inputs?: readonly string[];
  /** Topics it archives. */
  archived?: readonly string[];
  /** Kinds of store rows it writes (results, late). */
  storeRows?: readonly string[];
  /** Job kinds it runs: each with the outcomes completed, failed and delayed. */
  jobKinds?: readonly string[];
}

/** The outcomes of a job (`concord_jobs_total{outcome}`). */
export const JOB_OUTCOMES = ['completed', 'failed', 'delayed'] as const;

const LATENCY = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The prom-client implementation, one Registry per process. */
export class PromProcessMetrics implements ProcessMetrics {
  readonly registry = new client.Registry();
  private readonly hooks: (() => Promise<void>)[] = [];
  private readonly watermarks = new Map<string, { pipeline: string; partition: string; w: number }>();
  private readonly c: {
    eventsIn: client.Counter<'pipeline'>; eventsFiltered: client.Counter<'pipeline'>; eventsOut: client.Counter<'pipeline'>; deadLetters: client.Counter<'input'>; late: client.Counter<'pipeline'>; lateSkips: client.Counter<'pipeline'>;
    lag: client.Gauge<'topic' | 'partition'>; commit: client.Histogram; emit: client.Histogram<'pipeline'>;
    paused: client.Gauge; spread: client.Gauge; cpBytes: client.Gauge; cpWritten: client.Counter; cpSeconds: client.Histogram;
    state: client.Gauge<'pipeline'>; restore: client.Histogram; restoreBytes: client.Gauge; archived: client.Counter<'topic'>; flush: client.Histogram;
    rows: client.Counter<'kind'>; storeWrite: client.Histogram; jobs: client.Counter<'kind' | 'outcome'>; jobSeconds: client.Histogram<'kind' | 'outcome'>;
  };

  constructor(now: () => number = Date.now) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    const marks = this.watermarks;
    new client.Gauge({
      name: 'concord_stream_watermark_timestamp_seconds', help: 'Watermark (event time, Unix seconds) per pipeline and input partition ("all": the pipeline\'s combined W)',
      labelNames: ['pipeline', 'partition'], registers,
      collect() { this.reset(); for (const m of marks.values()) this.set({ pipeline: m.pipeline, partition: m.partition }, m.w / 1000); },
    });
    new client.Gauge({
      name: 'concord_stream_watermark_lag_seconds', help: 'How far the watermark is behind the wall clock, per pipeline and input partition',
      labelNames: ['pipeline', 'partition'], registers,
      collect() { this.reset(); const t = now(); for (const m of marks.values()) this.set({ pipeline: m.pipeline, partition: m.partition }, (t - m.w) / 1000); },
    });
    this.c = {
      eventsIn: new client.Counter({ name: 'concord_events_in_total', help: 'Valid events received, per pipeline (before its where: concord_events_filtered_total says how many that left out)', labelNames: ['pipeline'], registers }),
      eventsFiltered: new client.Counter({
        name: 'concord_events_filtered_total', labelNames: ['pipeline'], registers,
        help: 'Valid events the pipeline\'s where left out, per pipeline (of concord_events_in_total; never late): in minus filtered is what it took',
      }),
      eventsOut: new client.Counter({ name: 'concord_events_out_total', help: 'Results written, per pipeline (worker: results and partials; merge: merged results)', labelNames: ['pipeline'], registers }),
      deadLetters: new client.Counter({ name: 'concord_dead_letters_total', help: 'Input lines that could not be decoded, per input schema', labelNames: ['input'], registers }),
      late: new client.Counter({ name: 'concord_late_events_total', help: 'Events judged late (beyond the allowed lateness), per pipeline', labelNames: ['pipeline'], registers }),
      lateSkips: new client.Counter({
        name: 'concord_late_window_skips_total', labelNames: ['pipeline'], registers,
        help: 'Window assignments skipped as late, per pipeline (hopping: once per window an event was too late for; tumbling: equals late events)',
      }),
      lag: new client.Gauge({ name: 'concord_consumer_lag_records', help: 'Records of an assigned input partition not read yet (read at scrape time)', labelNames: ['topic', 'partition'], registers }),
      commit: new client.Histogram({ name: 'concord_transaction_commit_seconds', help: 'Kafka transaction commit latency', buckets: LATENCY, registers }),
      emit: new client.Histogram({
        name: 'concord_window_emit_delay_seconds', help: 'Wall-clock delay from the step in which the watermark passed a window\'s end to the commit of its result',
        labelNames: ['pipeline'], buckets: LATENCY, registers,
      }),
      paused: new client.Gauge({ name: 'concord_stream_paused_partitions', help: 'Input partitions a worker leaves out of its fetches (watermark alignment: too far ahead in event time)', registers }),
      spread: new client.Gauge({ name: 'concord_stream_watermark_spread_seconds', help: 'Event-time spread of a worker\'s input partitions: the highest own watermark minus the lowest (not idle)', registers }),
      cpBytes: new client.Gauge({ name: 'concord_checkpoint_size_bytes', help: 'Size of the last checkpoint (every assigned partition and pipeline)', registers }),
      cpSeconds: new client.Histogram({ name: 'concord_checkpoint_seconds', help: 'Time to take a checkpoint (snapshot and serialise the state)', buckets: LATENCY, registers }),
      // The gauge says the last transaction's (0 when nothing changed); the rate of this is what the compacted topic takes in.
      cpWritten: new client.Counter({ name: 'concord_checkpoint_written_bytes_total', help: 'Bytes of checkpoint records written (keys and values, tombstones included)', registers }),
      state: new client.Gauge({ name: 'concord_state_entries', help: 'State held per pipeline over the assigned partitions: open (window, key) cells, a rule\'s kept events', labelNames: ['pipeline'], registers }),
      restore: new client.Histogram({
        name: 'concord_checkpoint_restore_seconds', help: 'Restoring assigned partitions: reading the checkpoints topic to its end and rebuilding their state', registers,
        buckets: [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
      }),
      restoreBytes: new client.Gauge({ name: 'concord_checkpoint_restore_read_bytes', help: 'Bytes of the checkpoints topic the last restore read (live state plus what compaction has not removed yet)', registers }),
      archived: new client.Counter({ name: 'concord_archived_records_total', help: 'Records written to the Parquet archive, per topic', labelNames: ['topic'], registers }),
      flush: new client.Histogram({ name: 'concord_archive_flush_seconds', help: 'Archive flush latency (Parquet files, commit marker, offset)', buckets: LATENCY, registers }),
      rows: new client.Counter({ name: 'concord_store_rows_written_total', help: 'Rows written to the result store, per kind (results, late)', labelNames: ['kind'], registers }),
      storeWrite: new client.Histogram({ name: 'concord_store_write_seconds', help: 'Result store write latency (one batch)', buckets: LATENCY, registers }),
      jobs: new client.Counter({ name: 'concord_jobs_total', help: 'Jobs ended, per kind and outcome (completed, failed, delayed)', labelNames: ['kind', 'outcome'], registers }),
      jobSeconds: new client.Histogram({
        name: 'concord_job_duration_seconds', help: 'Job durations, per kind and outcome', labelNames: ['kind', 'outcome'], registers,
        buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600],
      }),
    };
  }

  eventsIn(pipeline: string, n = 1): void { this.c.eventsIn.inc({ pipeline }, n); }
  eventsFiltered(pipeline: string, n = 1): void { this.c.eventsFiltered.inc({ pipeline }, n); }
  eventsOut(pipeline: string, n = 1): void { this.c.eventsOut.inc({ pipeline }, n); }
  deadLetters(input: string, n = 1): void { this.c.deadLetters.inc({ input }, n); }
  late(pipeline: string, n = 1): void { this.c.late.inc({ pipeline }, n); }
  lateWindowSkips(pipeline: string, n = 1): void { this.c.lateSkips.inc({ pipeline }, n); }
  watermark(pipeline: string, partition: string, w: number): void {
    // -infinity (no data yet) and +infinity (drained) leave the last finite value.
    if (Number.isFinite(w)) this.watermarks.set(`${pipeline}|${partition}`, { pipeline, partition, w });
  }
  consumerLag(topic: string, partition: number, lag: number): void { this.c.lag.set({ topic, partition: String(partition) }, Math.max(0, lag)); }
  partitionGone(topic: string, pipelines: readonly string[], partition: number): void {
    // Kept, the series froze at the hand-over: a watermark lag that grew with the wall clock for good.
    for (const pipeline of pipelines) this.watermarks.delete(`${pipeline}|${partition}`);
    this.c.lag.remove({ topic, partition: String(partition) });
  }
  transactionCommit(seconds: number): void { this.c.commit.observe(seconds); }
  windowEmitDelay(pipeline: string, seconds: number): void { this.c.emit.observe({ pipeline }, seconds); }
  alignment(paused: number, spreadMs: number): void {
    this.c.paused.set(paused);
    this.c.spread.set(spreadMs / 1000);
  }
  checkpoint(bytes: number, seconds: number): void {
    this.c.cpBytes.set(bytes);
    this.c.cpWritten.inc(bytes);
    this.c.cpSeconds.observe(seconds);
  }
  stateEntries(pipeline: string, entries: number): void { this.c.state.set({ pipeline }, entries); }
  restore(seconds: number, bytesRead: number): void {
    this.c.restore.observe(seconds);
    this.c.restoreBytes.set(bytesRead);
  }
  archived(topic: string, n: number, seconds: number): void {
    this.c.archived.inc({ topic }, n);
    this.c.flush.observe(seconds);
  }
  storeWrite(rows: { results: number; late: number }, seconds: number): void {
    if (rows.results > 0) this.c.rows.inc({ kind: 'results' }, rows.results);
    if (rows.late > 0) this.c.rows.inc({ kind: 'late' }, rows.late);
    this.c.storeWrite.observe(seconds);
  }
  job(kind: string, outcome: string, seconds: number): void {
    this.c.jobs.inc({ kind, outcome });
    this.c.jobSeconds.observe({ kind, outcome }, seconds);
  }
  declare(series: DeclaredSeries): void {
    for (const pipeline of series.pipelines ?? []) for (const c of [this.c.eventsIn, this.c.eventsFiltered, this.c.eventsOut, this.c.late, this.c.lateSkips]) c.inc({ pipeline }, 0);
    for (const input of series.inputs ?? []) this.c.deadLetters.inc({ input }, 0);
    for (const topic of series.archived ?? []) this.c.archived.inc({ topic }, 0);
    for (const kind of series.storeRows ?? []) this.c.rows.inc({ kind }, 0);
    for (const kind of series.jobKinds ?? []) for (const outcome of JOB_OUTCOMES) this.c.jobs.inc({ kind, outcome }, 0);
  }
  beforeScrape(fn: () => Promise<void>): void { this.hooks.push(fn); }

  async text(): Promise<string> {
    await Promise.all(this.hooks.map((h) => h().catch(() => undefined)));
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  metrics: PromProcessMetrics;
  port: number;
  host: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (Prometheus text format) on host:port; port 0 takes any free port. */
export async function startMetricsServer(o: { port: number; host?: string; metrics?: PromProcessMetrics }): Promise<MetricsServer> {
  const metrics = o.metrics ?? new PromProcessMetrics();
  const host = o.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(req.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, o.port, host)));
    server.listen(o.port, host, () => resolve());
  });
  server.unref(); // never keeps a finished process alive
  const port = (server.address() as AddressInfo).port;
  return {
    metrics, port, host,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * Why the metrics server could not listen, said as the flag to change: a second process given the same
 * --metrics-port died with Node's EADDRINUSE stack trace.
 */
function listenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (error.code === 'EADDRINUSE') {
    return new ConfigError(`--metrics-port ${port}: ${where} is in use (another process's metrics, or \`run --workers N\`'s ports P..P+N-1?): give another port, or 0 for any free one`, { cause: error });
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EACCES') {
    return new ConfigError(`--metrics-host ${host} --metrics-port ${port}: cannot listen on ${where} (${error.code}): give an address of this host (default 127.0.0.1) and a port it may use`, { cause: error });
  }
  return error;
}

/** CLI flags of every long-running command. */
export const metricsFlags = { 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' } } as const;
export const metricsOptions = [
  '--metrics-port N           serve Prometheus metrics at http://HOST:N/metrics (env CONCORD_METRICS_PORT;',
  '                           0: any free port, printed; none: no metrics server)',
  '--metrics-host H           the metrics server\'s address (default 127.0.0.1, env CONCORD_METRICS_HOST)',
];

/**
 * The metrics port of `--metrics-port` (env CONCORD_METRICS_PORT), undefined for none. Apart from
 * metricsFromFlags so a command checks it with its other flags, before it talks to a broker.
 */
export function metricsPort(v: Record<string, unknown>): number | undefined {
  const raw = v['metrics-port'] ?? process.env.CONCORD_METRICS_PORT;
  // `none` turns off a port the environment sets, as the help says.
  if (raw === undefined || raw === '' || raw === 'none') return undefined;
  const port = /^\d+$/.test(String(raw)) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`--metrics-port ${String(raw)}: give a port number (0: any free port; none: no metrics server)`);
  metricsHost(v);
  return port;
}

/** The metrics server's address (`--metrics-host`, env CONCORD_METRICS_HOST, default 127.0.0.1). */
function metricsHost(v: Record<string, unknown>): string {
  const given = v['metrics-host'] !== undefined;
  const host = String(v['metrics-host'] ?? process.env.CONCORD_METRICS_HOST ?? '127.0.0.1');
  // Node listens on every interface for an empty host: an empty setting (a templated CONCORD_METRICS_HOST=)
  // exposed the unauthenticated metrics beyond loopback. Refused, as `concord serve --host ''` is.
  if (host.trim() === '') {
    throw new ConfigError(`${given ? '--metrics-host' : 'CONCORD_METRICS_HOST'}: empty; name the address to listen on (default 127.0.0.1, loopback)`);
  }
  return host;
}

/** Starts the metrics server when `--metrics-port` (or env CONCORD_METRICS_PORT) asks for one; prints where. */
export async function metricsFromFlags(v: Record<string, unknown>, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<MetricsServer | undefined> {
  const port = metricsPort(v);
  if (port === undefined) return undefined;
  const host = metricsHost(v);
  const server = await startMetricsServer({ port, host });
  log(`metrics on http://${host.includes(':') ? `[${host}]` : host}:${server.port}/metrics`);
  return server;
}
