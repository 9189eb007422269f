import { rejectionText, type DeadLetter } from '../schemas/results.ts';

/**
 * Dead letters counted per reason, for the summaries and progress lines: a misspelt path of a required
 * field refuses most events for one reason, which the first rejection alone does not show. Reasons that
 * quote the line (malformed JSON at a position, a field's value) are counted together: per field, and all
 * malformed JSON as one; otherwise a CSV file read as JSON lines gave as many reasons as lines, each
 * counted once, and the summary named none of them (`99 (other reasons); 1 malformed JSON: ...`).
 */
export type RejectionReasons = Map<string, ReasonGroup>;

/** The dead letters of one group: how many, the first one's reason, and whether the others said something else. */
export interface ReasonGroup extends Alike {
  /** What the dead letters share: a field (its name), being no JSON, or the reason's words apart from numbers. */
  readonly kind: 'field' | 'json' | 'reason';
  readonly field?: string;
  /**
   * A field's refusals per reason, values apart (`alikeKey`): `4 items: refused for several values or
   * reasons (the first: ...)` did not say how many of the 4 were which reason. At most MAX_FIELD_REASONS,
   * beyond counted under OTHER_REASONS.
   */
  readonly reasons?: Map<string, Alike>;
}

/** Dead letters whose reasons are alike: how many, the first one's reason, and whether the others said it otherwise. */
export interface Alike {
  count: number;
  first: string;
  varied: boolean;
}

/** Groups kept: beyond, the dead letters are counted under OTHER_REASONS. */
const MAX_REASONS = 100;
/** A field's reasons kept (ReasonGroup.reasons): a field is read by a few checks, each with its own words. */
const MAX_FIELD_REASONS = 20;
/** Reasons named with their counts in a list (the summary's, a field's): the few that explain most dead letters. */
export const SHOWN_REASONS = 3;
/** Where the dead letters of groups beyond MAX_REASONS are counted. */
export const OTHER_REASONS = '(other reasons)';
const MALFORMED_JSON = 'malformed JSON';

/** The group a dead letter is counted in (see RejectionReasons). */
function groupOf(d: Pick<DeadLetter, 'field' | 'reason' | 'reference'>): { key: string; kind: ReasonGroup['kind']; field?: string } {
  // The time quarantine names its own reason (future_timestamp, past_horizon), apart from the time field's parse errors.
  if (d.reference !== undefined) return { key: `quarantine ${d.reason}`, kind: 'reason' };
  if (d.field !== null) return { key: `field ${d.field}`, kind: 'field', field: d.field };
  if (d.reason.startsWith(`${MALFORMED_JSON}:`)) return { key: MALFORMED_JSON, kind: 'json' };
  // A line over the limit says its size: one group whatever the number.
  return { key: d.reason.replace(/\d[\d,]*/g, '#'), kind: 'reason' };
}

/**
 * What a field's reasons are alike by: their words with the values left out, quoted, numbers and
 * true/false (`expected an integer, got string "3"` and `... got string "4"` are one reason,
 * `... got boolean true` and `... false` another).
 */
export const alikeKey = (reason: string): string =>
  reason.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\d+(?:[.,]\d+)*/g, '#').replace(/\b(?:true|false)\b/g, '#');

/** One more dead letter of `alike`, saying `reason` (its words, or others alike). */
function countAlike(alike: Alike, reason: string): void {
  alike.count++;
  alike.varied ||= alike.first !== reason;
}

export function countRejection(reasons: RejectionReasons, d: Pick<DeadLetter, 'field' | 'reason' | 'reference'>): void {
  const { key, ...group } = groupOf(d);
  let known = reasons.get(key);
  if (known !== undefined) {
    countAlike(known, d.reason);
  } else if (reasons.size < MAX_REASONS) {
    known = { count: 1, first: d.reason, varied: false, ...group, ...(group.kind === 'field' ? { reasons: new Map() } : {}) };
    reasons.set(key, known);
  } else {
    const other = reasons.get(OTHER_REASONS);
    if (other) other.count++;
    else reasons.set(OTHER_REASONS, { count: 1, first: OTHER_REASONS, varied: false, kind: 'reason' });
    return;
  }
  if (known.reasons === undefined) return;
  const alike = alikeKey(d.reason);
  const sub = known.reasons.get(alike);
  if (sub !== undefined) countAlike(sub, d.reason);
  else if (known.reasons.size < MAX_FIELD_REASONS) known.reasons.set(alike, { count: 1, first: d.reason, varied: false });
  else {
    const other = known.reasons.get(OTHER_REASONS);
    if (other) other.count++;
    else known.reasons.set(OTHER_REASONS, { count: 1, first: OTHER_REASONS, varied: false });
  }
}

/** `from`'s alike dead letters added to `into`'s (the same reason or not). */
function mergeAlike(into: Alike, from: Alike): void {
  into.count += from.count;
  into.varied ||= from.varied || into.first !== from.first;
}

/** Adds `from` to `to` under `key`, within `max` keys (beyond, counted under OTHER_REASONS as `other` makes it). */
function mergeInto<T extends Alike>(to: Map<string, T>, key: string, from: T, max: number, copy: (a: T) => T, other: () => T): void {
  const known = to.get(key);
  if (known !== undefined) mergeAlike(known, from);
  else if (key !== OTHER_REASONS && to.size < max) to.set(key, copy(from));
  else {
    const rest = to.get(OTHER_REASONS);
    if (rest !== undefined) rest.count += from.count;
    else to.set(OTHER_REASONS, { ...other(), count: from.count });
  }
}

/**
 * Adds the dead letters counted in `from` to `into`, as if each had been counted there: a field's split per
 * reason too (a Kafka worker counts each step apart and adds it when its transaction commits, StepCounts).
 */
export function mergeRejections(into: RejectionReasons, from: RejectionReasons): void {
  const otherGroup = (): ReasonGroup => ({ count: 0, first: OTHER_REASONS, varied: false, kind: 'reason' });
  const otherAlike = (): Alike => ({ count: 0, first: OTHER_REASONS, varied: false });
  for (const [key, group] of from) {
    const known = into.get(key);
    mergeInto(into, key, group, MAX_REASONS, (g) => ({ ...g, reasons: g.reasons === undefined ? undefined : new Map([...g.reasons].map(([k, a]) => [k, { ...a }])) }), otherGroup);
    if (known?.reasons !== undefined && group.reasons !== undefined) {
      for (const [alike, a] of group.reasons) mergeInto(known.reasons, alike, a, MAX_FIELD_REASONS, (x) => ({ ...x }), otherAlike);
    }
  }
}

/** The dead-letter counters a run keeps: how many, the first one's place and reason, and per reason. */
export interface DeadLetterCounts {
  deadLetters: number;
  firstRejection: string | null;
  rejectionReasons: RejectionReasons;
}

/** Counts one dead letter in `counts` (the stream runtime's and a Kafka worker's admission alike). */
export function countDeadLetter(counts: DeadLetterCounts, d: DeadLetter): void {
  counts.deadLetters++;
  counts.firstRejection ??= rejectionText(d);
  countRejection(counts.rejectionReasons, d);
}

/**
 * How a group is said: its reason, or when its dead letters said different things, what they share and
 * the first; a field refused for several reasons, each with its count (`items: refused for 2 reasons
 * (3 expected an integer, got string "3" (the first of several alike); 1 expected an integer, got number 1.5)`).
 */
export function groupText(g: ReasonGroup): string {
  if (!g.varied) return g.first;
  if (g.kind === 'json') return `${MALFORMED_JSON} (lines that are not JSON; the first: ${g.first.slice(MALFORMED_JSON.length + 2)})`;
  const split = g.reasons === undefined ? [] : [...g.reasons.values()];
  if (split.length <= 1) return alikeText(g);
  // The field's name once, before its reasons (each of which starts with it).
  const prefix = `${g.field}: `;
  const each = split.map((a) => {
    const text = alikeText(a);
    return { text: text.startsWith(prefix) ? text.slice(prefix.length) : text, count: a.count };
  });
  const reasons = g.reasons?.has(OTHER_REASONS) === true ? `more than ${split.length - 1}` : String(split.length);
  return `${prefix}refused for ${reasons} reasons (${countsText(each, g.count)})`;
}

const alikeText = (a: Alike): string => (a.varied ? `${a.first} (the first of several alike)` : a.first);

/**
 * "3883 user_id: is required (...); 2 malformed JSON: ...; and 5 more for 4 other reasons": the
 * SHOWN_REASONS most frequent (ties in the order first met) with their counts, and what the others of
 * `total` add up to; '' for none.
 */
export function countsText(reasons: ReadonlyArray<{ text: string; count: number }>, total: number): string {
  const top = [...reasons].sort((a, b) => b.count - a.count).slice(0, SHOWN_REASONS);
  const said = top.reduce((sum, r) => sum + r.count, 0);
  const others = reasons.length - top.length;
  const rest = total > said ? `; and ${total - said} more for ${others} other reason${others === 1 ? '' : 's'}` : '';
  return top.map((r) => `${r.count} ${r.text}`).join('; ') + rest;
}

/** The most frequent groups first (ties in the order first met), at most `n`: what each says and how many. */
export function topReasons(reasons: RejectionReasons, n: number): Array<[reason: string, count: number]> {
  return topGroups(reasons, n).map((g) => [groupText(g), g.count]);
}

/** The most frequent groups first, at most `n`. */
export function topGroups(reasons: RejectionReasons, n: number): ReasonGroup[] {
  return [...reasons.values()].sort((a, b) => b.count - a.count).slice(0, n);
}

/** Whether a group is the lines that are no JSON at all (a CSV file, a JSON array, pretty-printed JSON). */
export const isMalformedJson = (g: ReasonGroup): boolean => g.kind === 'json';

/** RejectionReasons as JSON (a partition's checkpoint keeps them: stream/step-counts.ts, PartitionCounts). */
export type RejectionReasonsJson = Array<[key: string, group: Omit<ReasonGroup, 'reasons'> & { reasons?: Array<[string, Alike]> }]>;

export function rejectionsToJson(reasons: RejectionReasons): RejectionReasonsJson {
  return [...reasons].map(([key, { reasons: split, ...group }]) => [key, { ...group, ...(split === undefined ? {} : { reasons: [...split] }) }]);
}

/** Read back from `rejectionsToJson` (anything else: none). */
export function rejectionsFromJson(json: unknown): RejectionReasons {
  if (!Array.isArray(json)) return new Map();
  return new Map((json as RejectionReasonsJson).map(([key, { reasons: split, ...group }]) => [key, { ...group, ...(split === undefined ? {} : { reasons: new Map(split) }) }]));
}

/**
 * The dead letters `to` counted beyond `from`, where `to` is `from` counted further (a partition's
 * cumulative counts at two moments): per group and a field's reasons, the difference of their counts;
 * groups with none left out. What a group says is `to`'s (its first reason may be older than `from`).
 */
export function rejectionsSince(to: RejectionReasons, from: RejectionReasons): RejectionReasons {
  const out: RejectionReasons = new Map();
  for (const [key, group] of to) {
    const before = from.get(key);
    const count = group.count - (before?.count ?? 0);
    if (count <= 0) continue;
    const reasons = group.reasons === undefined ? undefined : new Map([...group.reasons].flatMap(([alike, a]): Array<[string, Alike]> => {
      const n = a.count - (before?.reasons?.get(alike)?.count ?? 0);
      return n > 0 ? [[alike, { ...a, count: n }]] : [];
    }));
    out.set(key, { ...group, count, ...(reasons === undefined ? {} : { reasons }) });
  }
  return out;
}
