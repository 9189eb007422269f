import client from 'prom-client';
import type { Logger } from 'pino';
import type { Registry as Definitions } from '../pipeline/registry.ts';
import type { DayReconciliation } from '../reconcile/day-report.ts';
import { DAY_STATUSES, dayStatusOf, isSealed, lastReconcileFailed, windowOf, type DayStatusName } from '../store/day-status.ts';
import type { StoreReader } from '../store/store-reader.ts';
import type { JobsView } from './jobs-view.ts';
import type { LiveFeed } from './live-feed.ts';
import type { ReadGate } from './read-gate.ts';
import { UNAVAILABLE_REASONS, type UnavailableReason } from './unavailable.ts';
import { DAY, dayOfMs } from './params.ts';

interface StoreView {
  up: boolean;
  seconds: number;
  pipelines: Map<string, {
    rows: number; late: number; dirty: number; watermark: number | null;
    days: Record<DayStatusName, number>;
    /** Of the days counted in `days`, those whose latest reconciliation failed (`lastReconcileFailed`). */
    reconcileFailedDays: number;
    last: { at: number; success: boolean; mismatchRate: number; smape: number; different: number; unexplained: number } | null;
  }>;
}

/** What the jobs' gauges show, read from Redis once per scrape. */
interface JobsRead { counts: Record<string, number>; workers: number; scheduled: boolean }

interface MetricsSources { reader: StoreReader; definitions: Definitions; live: LiveFeed; gate: ReadGate; jobs: JobsView | undefined; log: Logger; now: () => number; cacheMs?: number }

/** Days counted per status: the 92 days up to a pipeline's newest data. */
const STATUS_DAYS = 92;

/**
 * The Prometheus metrics of `concord serve` (text format at /metrics, prom-client): the store's view
 * (rows, late events, dirty cells, days per status, watermarks and their lag, the last reconciliation's
 * outcome, per pipeline), BullMQ queue counts when Redis is set, the HTTP API's requests and latency,
 * the live stream, and the process. The store's view is read in one snapshot at most every `cacheMs`.
 */
export class ServeMetrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'method' | 'route' | 'status_code'>;
  private readonly duration: client.Histogram<'method' | 'route'>;
  private readonly unavailable: client.Counter<'route' | 'reason'>;
  private view: { at: number; value: Promise<StoreView> } | undefined;
  private lastGood: StoreView | undefined;
  private jobsRead: { at: number; value: Promise<JobsRead | undefined> } | undefined;
  private readonly o: MetricsSources;

  constructor(o: MetricsSources) {
    this.o = o;
    const now = o.now;
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.requests = new client.Counter({ name: 'concord_http_requests_total', help: 'HTTP requests answered, by method, route and status code', labelNames: ['method', 'route', 'status_code'], registers });
    this.duration = new client.Histogram({
      name: 'concord_http_request_duration_seconds', help: 'HTTP request latency, by method and route', labelNames: ['method', 'route'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.unavailable = new client.Counter({
      name: 'concord_http_unavailable_total', labelNames: ['route', 'reason'], registers,
      help: `API requests answered 503, by route and reason (${UNAVAILABLE_REASONS.join(', ')}): an overloaded server or a store that is down`,
    });
    const view = () => this.storeView();
    const perPipeline = (name: string, help: string, pick: (p: StoreView['pipelines'] extends Map<string, infer V> ? V : never, now: number) => number | null) =>
      new client.Gauge({
        name, help, labelNames: ['pipeline'], registers,
        async collect() {
          this.reset();
          const v = await view();
          for (const [pipeline, p] of v.pipelines) {
            const x = pick(p, now());
            if (x !== null && Number.isFinite(x)) this.set({ pipeline }, x);
          }
        },
      });
    new client.Gauge({ name: 'concord_store_up', help: '1 when the last read of the store answered, 0 when it did not (unreachable, or DuckDB held by a writer)', registers, async collect() { this.set((await view()).up ? 1 : 0); } });
    new client.Gauge({ name: 'concord_store_read_seconds', help: 'How long the last read of the store\'s view for these metrics took', registers, async collect() { this.set((await view()).seconds); } });
    perPipeline('concord_store_rows', 'Result rows in the store, every version, per pipeline', (p) => p.rows);
    perPipeline('concord_store_late_events', 'Late events the stream recorded, per pipeline', (p) => p.late);
    perPipeline('concord_store_dirty_cells', 'Cells waiting for a backfill (late data after reconciliation or sealing), per pipeline', (p) => p.dirty);
    perPipeline('concord_watermark_timestamp_seconds', 'The pipeline\'s watermark (event time, Unix seconds)', (p) => (p.watermark === null ? null : p.watermark / 1000));
    perPipeline('concord_watermark_lag_seconds', 'How far the watermark is behind the wall clock', (p, now) => (p.watermark === null ? null : (now - p.watermark) / 1000));
    perPipeline('concord_reconcile_last_timestamp_seconds', 'When the pipeline\'s last reconciliation ran (Unix seconds)', (p) => (p.last ? p.last.at / 1000 : null));
    perPipeline('concord_reconcile_last_success', '1 when the last reconciliation published its day, 0 when unexplained differences stopped it', (p) => (p.last ? (p.last.success ? 1 : 0) : null));
    perPipeline('concord_reconcile_last_mismatch_rate', 'Mismatch rate (differing cells / cells) of the last reconciliation', (p) => p.last?.mismatchRate ?? null);
    perPipeline('concord_reconcile_last_smape', 'SMAPE of realtime against replay in the last reconciliation', (p) => p.last?.smape ?? null);
    perPipeline('concord_reconcile_last_differences', 'Differing cells in the last reconciliation', (p) => p.last?.different ?? null);
    perPipeline('concord_reconcile_last_unexplained', 'Unexplained differences in the last reconciliation (the goal is 0)', (p) => p.last?.unexplained ?? null);
    perPipeline('concord_store_days_reconcile_failed',
      'Days whose latest reconciliation failed (unexplained differences: no version published), per pipeline, over the days concord_store_days counts; each is counted there under its own status too (provisional while no earlier reconciliation published)',
      (p) => p.reconcileFailedDays);
    new client.Gauge({
      name: 'concord_store_days', help: `Days per status (${DAY_STATUSES.join(', ')}) per pipeline, over the ${STATUS_DAYS} days up to its newest data`, labelNames: ['pipeline', 'status'], registers,
      async collect() {
        this.reset();
        for (const [pipeline, p] of (await view()).pipelines) for (const [status, n] of Object.entries(p.days)) this.set({ pipeline, status }, n);
      },
    });
    const gate = o.gate;
    new client.Gauge({ name: 'concord_http_requests_querying', help: `API requests reading the store now (at most ${gate.limits.running})`, registers, collect() { this.set(gate.running); } });
    new client.Gauge({ name: 'concord_http_requests_queued', help: `API requests waiting for a turn to read the store (at most ${gate.limits.waiting}; more are refused with 503)`, registers, collect() { this.set(gate.waiting); } });
    new client.Counter({ name: 'concord_http_requests_refused_busy_total', help: 'API requests refused with 503 because too many were waiting to read the store', registers, collect() { this.reset(); this.inc(gate.refused); } });
    new client.Counter({ name: 'concord_http_requests_abandoned_total', help: 'API requests whose client left while they waited for a turn to read the store (not read)', registers, collect() { this.reset(); this.inc(gate.abandoned); } });
    const live = o.live;
    new client.Gauge({ name: 'concord_live_clients', help: 'Clients of the live stream (/api/live)', registers, collect() { this.set(live.listenerCount); } });
    new client.Counter({
      name: 'concord_live_events_total', help: 'Events sent on the live stream, by type (each client counted once per event)', labelNames: ['type'], registers,
      collect() { this.reset(); for (const [type, n] of live.sent) this.inc({ type }, n); },
    });
    if (o.jobs) {
      const jobs = this.jobsView.bind(this, o.jobs);
      new client.Gauge({ name: 'concord_redis_up', help: '1 when the jobs\' Redis answered the last scrape, 0 when it did not', registers, async collect() { this.set((await jobs()) ? 1 : 0); } });
      new client.Gauge({
        name: 'concord_jobs', help: 'BullMQ jobs per state (reconcile, backfill, nightly)', labelNames: ['state'], registers,
        async collect() {
          this.reset();
          for (const [state, n] of Object.entries((await jobs())?.counts ?? {})) this.set({ state }, n);
        },
      });
      new client.Gauge({
        name: 'concord_jobs_nightly_scheduled', help: '1 when the nightly schedule (`concord jobs schedule`) exists, 0 when not (never made, or lost with Redis\' data)', registers,
        async collect() {
          const v = await jobs();
          if (v) this.set(v.scheduled ? 1 : 0);
        },
      });
      new client.Gauge({
        name: 'concord_jobs_workers', help: 'Job workers alive on the queue prefix (`concord jobs worker`); 0 while jobs wait for none', registers,
        async collect() {
          const v = await jobs();
          if (v) this.set(v.workers);
        },
      });
    }
  }

  /** One Redis read per scrape for the jobs' gauges (undefined: Redis did not answer). */
  private jobsView(jobs: JobsView): Promise<JobsRead | undefined> {
    const at = performance.now();
    if (this.jobsRead && at - this.jobsRead.at < 1_000) return this.jobsRead.value;
    const value = Promise.all([jobs.counts(), jobs.workers(), jobs.schedule()]).then(([counts, workers, schedule]) => ({ counts, workers: workers.length, scheduled: schedule !== null }), (error: unknown) => {
      this.o.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics: Redis did not answer');
      return undefined;
    });
    this.jobsRead = { at, value };
    return value;
  }

  observe(method: string, route: string, statusCode: number, seconds: number, unavailable?: UnavailableReason): void {
    this.requests.inc({ method, route, status_code: String(statusCode) });
    if (unavailable) this.unavailable.inc({ route, reason: unavailable });
    this.duration.observe({ method, route }, seconds);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private storeView(): Promise<StoreView> {
    const now = this.o.now();
    if (this.view && now - this.view.at < (this.o.cacheMs ?? 10_000)) return this.view.value;
    const value = this.readView().then((v) => { this.lastGood = v; return v; }, (error: unknown) => {
      this.o.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics: the store did not answer');
      // Keep the last values seen (a DuckDB writer holds the file for a while): only `up` says the store is away.
      return { up: false, seconds: 0, pipelines: this.lastGood?.pipelines ?? new Map() } satisfies StoreView;
    });
    this.view = { at: now, value };
    return value;
  }

  private async readView(): Promise<StoreView> {
    const started = performance.now();
    const pipelines: StoreView['pipelines'] = new Map();
    await this.o.reader.read(async (s) => {
      const totals = await s.totals();
      const last = await s.lastReconciliations();
      for (const def of this.o.definitions.pipelines) {
        const t = totals.get(def.name);
        const days = Object.fromEntries(DAY_STATUSES.map((x) => [x, 0])) as Record<DayStatusName, number>;
        let reconcileFailedDays = 0;
        // Up to its newest window, or its watermark when that is later: a rule that raised no alert has
        // no row, yet days the stream covered and a reconciliation published (counted 0 before 2026-12-07).
        // Or its newest stored version when that is later: a day a backfill published past the stream (or
        // of a pipeline no stream wrote) was not counted.
        const { last: newestWindow } = await s.extent(def.name);
        const w = t?.watermark ?? null;
        const newest = newestWindow === null ? w : w === null ? newestWindow : Math.max(newestWindow, w);
        const versionDay = await s.newestVersionDay(def.name);
        const toDay = newest === null ? versionDay : versionDay !== null && versionDay > dayOfMs(newest) ? versionDay : dayOfMs(newest);
        if (toDay !== null) {
          const fromDay = dayOfMs(Date.parse(`${toDay}T00:00:00Z`) - (STATUS_DAYS - 1) * DAY);
          const states = await s.dayStates(def.name, fromDay, toDay);
          for (const [day, st] of states) {
            days[dayStatusOf({ sealed: isSealed(day, t?.watermark, this.o.reader.sealDelayMs, windowOf(this.o.definitions, def.name)), liveGeneration: st.liveGeneration })]++;
            if (lastReconcileFailed(st)) reconcileFailedDays++;
          }
        }
        const rec = last.find((r) => r.pipeline === def.name);
        let lastRec = null;
        if (rec) {
          const r = (JSON.parse(rec.reportJson) as DayReconciliation).report;
          lastRec = { at: rec.at, success: rec.status !== 'failed_unexplained', mismatchRate: r.metrics.mismatch_rate, smape: r.metrics.smape, different: r.different, unexplained: r.unexplained };
        }
        pipelines.set(def.name, { rows: t?.rows ?? 0, late: t?.late ?? 0, dirty: t?.dirty ?? 0, watermark: t?.watermark ?? null, days, reconcileFailedDays, last: lastRec });
      }
    });
    return { up: true, seconds: (performance.now() - started) / 1000, pipelines };
  }
}
