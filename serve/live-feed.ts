import type { Logger } from 'pino';
import type { PipelineDefinition } from '../pipeline/definition.ts';
import type { Registry } from '../pipeline/registry.ts';
import { isoMillis } from '../pipeline/time.ts';
import { StoreBusyError } from '../store/sql-driver.ts';
import type { StoreReader, StoreSnapshot } from '../store/store-reader.ts';
import { alertJson, windowJson } from './params.ts';
import { STORE_LOCKED_MESSAGE } from './store-said.ts';

export type LiveEventType = 'revision' | 'alert' | 'version' | 'watermark' | 'store' | 'resync';
export interface LiveEvent { type: LiveEventType; pipeline?: string; data: Record<string, unknown> }
type Listener = (e: LiveEvent) => void;

/** Rows re-read behind the newest write seen: a writer's rows commit after the instant they carry (PostgreSQL writers queue on a lock). */
const SAFETY_MS = 10_000;
/** Rows read per pipeline and poll; more: a `resync` event (re-read) instead of the rows. */
const ROWS_PER_POLL = 2_000;

interface Mark { since: number; sent: Map<string, number> }

/**
 * New result revisions, alerts, day-version switches and watermarks, polled from the store (one poller
 * per process, running only while someone listens) and fanned out to listeners (the SSE clients).
 * Rows are the stream's (generation 0) of windows that can still change (from the watermark minus the
 * window, B and L); a row is sent once per revision. Embedded DuckDB is polled only when its files changed.
 */
export class LiveFeed {
  private readonly reader: StoreReader;
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly now: () => number;
  readonly pollMs: number;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private token: string | undefined;
  private seq: number | undefined;
  private readonly marks = new Map<string, Mark>();
  private readonly watermarks = new Map<string, number>();
  private storeState: 'ok' | 'busy' | 'error' = 'ok';
  /** Events sent, by type (metrics). */
  readonly sent = new Map<LiveEventType, number>();

  constructor(o: { reader: StoreReader; registry: Registry; log: Logger; pollMs?: number; now?: () => number }) {
    this.reader = o.reader;
    this.registry = o.registry;
    this.log = o.log;
    this.pollMs = o.pollMs ?? 1_000;
    this.now = o.now ?? Date.now;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.timer && !this.running) this.schedule(0);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) { clearTimeout(this.timer); this.timer = undefined; }
    };
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.poll().finally(() => {
        this.running = undefined;
        if (this.listeners.size > 0) this.schedule(this.pollMs);
      });
    }, ms);
  }

  private emit(e: LiveEvent): void {
    this.sent.set(e.type, (this.sent.get(e.type) ?? 0) + 1);
    for (const l of this.listeners) l(e);
  }

  /** One poll: what changed since the last one. */
  async poll(): Promise<void> {
    try {
      const token = await this.reader.changeToken();
      if (token !== undefined && token === this.token && this.storeState === 'ok') return;
      await this.reader.read((s) => this.read(s));
      this.token = token;
      this.setState('ok');
    } catch (error) {
      this.setState(error instanceof StoreBusyError ? 'busy' : 'error', error instanceof Error ? error.message : String(error));
    }
  }

  private setState(state: 'ok' | 'busy' | 'error', message?: string): void {
    if (state === this.storeState) return;
    this.storeState = state;
    if (state !== 'ok') this.log.warn({ state, err: message }, 'live feed: the store does not answer');
    this.emit({ type: 'store', data: { status: state, ...(message ? { message: state === 'busy' ? STORE_LOCKED_MESSAGE : 'the store could not answer (see the server log)' } : {}) } });
  }

  private async read(s: StoreSnapshot): Promise<void> {
    if (s.empty) {
      // Nothing was there: whatever is written next is new (it was taken for rows older than the listener
      // and skipped, so the first stream into an empty store sent no revision, only its watermark).
      this.seq ??= 0;
      for (const def of this.registry.pipelines) if (!this.marks.has(def.name)) this.marks.set(def.name, { since: 0, sent: new Map() });
      return;
    }
    const now = this.now();
    for (const [pipeline, w] of await s.watermarks()) {
      if (this.watermarks.get(pipeline) === w) continue;
      this.watermarks.set(pipeline, w);
      this.emit({ type: 'watermark', pipeline, data: { pipeline, watermark: isoMillis(w), lag_ms: now - w } });
    }
    if (this.seq === undefined) {
      this.seq = (await s.switches(null, { limit: 1 })).at(-1)?.seq ?? 0;
    } else {
      for (const x of await s.switches(null, { afterSeq: this.seq, limit: 500 })) {
        this.seq = x.seq;
        this.emit({ type: 'version', pipeline: x.pipeline, data: { pipeline: x.pipeline, date: x.day, version: x.generation, previous: x.previous, reason: x.reason, at: isoMillis(x.at) } });
      }
    }
    const reconciled = new Set((await s.liveDays()).filter((d) => d.generation > 0).map((d) => `${d.pipeline}\u0000${d.day}`));
    for (const def of this.registry.pipelines) await this.rows(s, def, reconciled);
  }

  private async rows(s: StoreSnapshot, def: PipelineDefinition, reconciled: Set<string>): Promise<void> {
    const { last } = await s.extent(def.name);
    if (last === null) {
      // No row of it yet: its first rows, when they come, are new to every listener.
      if (!this.marks.has(def.name)) this.marks.set(def.name, { since: 0, sent: new Map() });
      return;
    }
    const w = this.watermarks.get(def.name) ?? last;
    const reach = (def.kind === 'windowed' ? def.window.size : def.rule.span) + def.allowedLateness + def.watermark.maxOutOfOrderness + 60_000;
    const from = Math.min(w, last) - reach;
    let mark = this.marks.get(def.name);
    if (!mark) {
      this.marks.set(def.name, { since: (await s.lastWrite(def.name, from)) ?? 0, sent: new Map() });
      return;
    }
    const rows = await s.written(def.name, from, mark.since - SAFETY_MS, ROWS_PER_POLL);
    if (rows.length === ROWS_PER_POLL) {
      mark.since = rows.reduce((m, r) => Math.max(m, r.writtenAt), mark.since);
      this.emit({ type: 'resync', pipeline: def.name, data: { pipeline: def.name, reason: `more than ${ROWS_PER_POLL} rows since the last poll: read again` } });
      return;
    }
    for (const r of rows) {
      const id = `${r.windowStart}\u0000${r.cell}\u0000${r.revision}`;
      if (mark.sent.has(id)) continue;
      mark.sent.set(id, r.writtenAt);
      mark.since = Math.max(mark.since, r.writtenAt);
      if (reconciled.has(`${def.name}\u0000${r.day}`)) continue; // readers see the day's reconciled version, not these
      this.emit(r.kind === 'window'
        ? { type: 'revision', pipeline: def.name, data: { pipeline: def.name, ...windowJson(r) } }
        : { type: 'alert', pipeline: def.name, data: { pipeline: def.name, ...alertJson(def, r) } });
    }
    for (const [id, at] of mark.sent) if (at <= mark.since - SAFETY_MS) mark.sent.delete(id);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    await this.running;
  }
}
