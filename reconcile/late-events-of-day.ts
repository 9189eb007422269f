import type { PipelineDefinition } from '../pipeline/definition.ts';
import { eventTimesOfDay } from './archive-changes.ts';
import { dayRange } from './day-range.ts';
import type { LoggedLate } from './reconcile.ts';
import type { ReconcileStore } from './reconcile-day.ts';

const DAY = 86_400_000;
const dateOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/**
 * The late events the workers logged for the day's cells. The store files a late event under the day of
 * the last window it missed, but a hopping window starting late on D also holds events of D+1 (30 m
 * windows every 10 m: the 23:50 window holds D+1 00:00-00:20): those logged under a later day whose event
 * time falls into D's windows (`eventTimesOfDay`) are read too, else D's cells that missed them are
 * differences nothing explains. A rule's late events of the two spans before D count for D's first
 * alerts; older ones a quiet key's reach needs are loaded by the reconcile (`ruleLateEventsBetween`).
 */
export async function lateEventsOfDay(store: ReconcileStore, def: PipelineDefinition, date: string): Promise<LoggedLate[]> {
  const own = await store.lateEvents(def.name, date);
  const range = dayRange(date);
  if (def.kind === 'rule') return [...(await ruleLateEventsBetween(store, def, range.from - 2 * def.rule.span, range.from)), ...own];
  const reach = eventTimesOfDay(def, date);
  const later: LoggedLate[] = [];
  for (let day = range.to; day < reach.to; day += DAY) {
    const logged = await store.lateEvents(def.name, dateOf(day));
    later.push(...logged.filter((l) => Number(l.record.event[def.schema.timeField]) < reach.to));
  }
  return [...own, ...later];
}

/** A rule's logged late events with from <= ts < to: a rule's late event is filed under its own day. */
export async function ruleLateEventsBetween(store: ReconcileStore, def: PipelineDefinition, from: number, to: number): Promise<LoggedLate[]> {
  const out: LoggedLate[] = [];
  for (let day = Math.floor(from / DAY) * DAY; day < to; day += DAY) {
    for (const l of await store.lateEvents(def.name, dateOf(day))) {
      const ts = Number(l.record.event[def.schema.timeField]);
      if (ts >= from && ts < to) out.push(l);
    }
  }
  return out;
}
