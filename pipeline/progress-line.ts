/** Where a progress line goes: a logger's info, stderr, an optional log. */
export type SayLine = (line: string, fields?: Record<string, unknown>) => void;

/**
 * Progress lines said only when they change: a long-running process that reports every few seconds
 * said the same line for good while idle (`run`: 5 identical lines in 30 s per worker, ~17,000 a day).
 * One last line per key (a worker, a merge stage, a job): lines under other keys do not reset it.
 */
export class ProgressLine {
  private readonly say: SayLine;
  private readonly last = new Map<string, string>();

  constructor(say: SayLine) {
    this.say = say;
  }

  /** Says `line` (with `fields`, for a structured log) unless it is what `key` said last; true if said. */
  update(line: string, o: { key?: string; fields?: Record<string, unknown> } = {}): boolean {
    const key = o.key ?? '';
    if (this.last.get(key) === line) return false;
    this.last.set(key, line);
    this.say(line, o.fields);
    return true;
  }
}
