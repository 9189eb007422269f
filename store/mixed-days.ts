import { shellWord } from '../pipeline/names.ts';
import type { ResultRecord } from '../schemas/results.ts';
import { dayOf, rowStartOf } from './rows.ts';
import type { SqlResultStore } from './sql-store.ts';

/** Per day, the definition versions of the stream's rows of one pipeline with how many rows each. */
export type MixedDays = Map<string, Map<string, number>>;

/** Sorted days as a message names them: the day, or how many from the first to the last. */
export function daysSpan(days: readonly string[]): string {
  return days.length === 1 ? days[0]! : `${days.length} days (${days[0]} .. ${days.at(-1)})`;
}

/**
 * Days whose stream rows (version 0) now come from two definitions of one pipeline: a changed key,
 * window or filter streamed into a day the old definition wrote, or another deployment's writer whose
 * pipeline shares the name (a second team's sink without its CONCORD_STORE_SCHEMA). Readers of such a
 * day see both until it is recomputed. One line per pipeline, `writer` naming who wrote `version`.
 */
export function mixedDaysMessage(pipeline: string, version: string, mixed: MixedDays, writer: string, orElse: string): string {
  const days = [...mixed.keys()];
  const versions = (m: Map<string, number>) => [...m].map(([v, n]) => `${v} (${n} rows${v === version ? `, ${writer}` : ''})`).join(' and ');
  const which = `${daysSpan(days)} now come from two definitions: ` +
    `${days.slice(0, 3).map((d) => `${d}: ${versions(mixed.get(d)!)}`).join('; ')}${days.length > 3 ? '; ...' : ''}`;
  return `!! ${pipeline}: the stream's rows of ${which}. A day not reconciled shows both; recompute those days under this definition with ` +
    `\`concord backfill --from ${days[0]} --to ${days.at(-1)} --pipeline ${shellWord(pipeline)} --archive DIR\`, ${orElse}`;
}

/**
 * What a long-running writer (the Kafka sink) checks now and then: the days it wrote results of since
 * the last check, and of those the ones whose stream rows mix definitions, each (pipeline, day) said once.
 */
export class MixedDaysWatch {
  private pending = new Map<string, Set<string>>();
  private readonly said = new Set<string>();
  /** Every day written per pipeline (a run's whole span: what a one-off run's summary names). */
  private readonly written = new Map<string, Set<string>>();

  private lastPipeline: string | undefined;
  private lastStart = Number.NaN;

  /** A result about to be written (a window's rows come in runs: its day is looked up once per run). */
  wrote(r: ResultRecord): void {
    const start = rowStartOf(r);
    if (r.pipeline === this.lastPipeline && start === this.lastStart) return;
    this.lastPipeline = r.pipeline;
    this.lastStart = start;
    let days = this.pending.get(r.pipeline);
    if (!days) this.pending.set(r.pipeline, days = new Set());
    days.add(dayOf(start));
    let all = this.written.get(r.pipeline);
    if (!all) this.written.set(r.pipeline, all = new Set());
    all.add(dayOf(start));
  }

  /** The days written of `pipeline`, sorted. */
  daysOf(pipeline: string): string[] {
    return [...(this.written.get(pipeline) ?? [])].sort();
  }

  /** Per pipeline, the days written since the last check that mix definitions and were not said before. */
  async check(store: SqlResultStore): Promise<Map<string, MixedDays>> {
    const pending = this.pending;
    this.pending = new Map();
    this.lastPipeline = undefined; // the next result's day goes into the new pending set
    const out = new Map<string, MixedDays>();
    for (const [pipeline, days] of pending) {
      const mixed = await store.mixedStreamDays(pipeline, [...days].sort());
      for (const day of [...mixed.keys()]) {
        if (this.said.has(`${pipeline}\0${day}`)) mixed.delete(day);
        else this.said.add(`${pipeline}\0${day}`);
      }
      if (mixed.size > 0) out.set(pipeline, mixed);
    }
    return out;
  }
}
