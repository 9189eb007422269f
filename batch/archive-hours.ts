import { readdir } from 'node:fs/promises';
import type { EventSchema } from '../schemas/schema.ts';
import { DAY_FOLDER, hourFoldersOfDay, parquetFilesIn, schemaDir } from './archive-layout.ts';

const DAY = 86_400_000;

/** An event-time hour partition (`dt=D/hour=HH`) and its Parquet files, sorted. */
export interface ArchiveHour {
  readonly start: number;
  readonly files: readonly string[];
}

/**
 * A schema's archive by event-time hour, listed lazily: the day folders once, a day's hours and files
 * when first asked for. A rule day's reads (reconcile/rule-day-reach.ts) walk back from the day and
 * name the hours they read, so reconciling one day lists the days it touches, not a year of archive.
 */
export class ArchiveHours {
  private readonly byDay = new Map<number, Promise<ArchiveHour[]>>();

  private constructor(private readonly root: string, private readonly days: readonly number[]) {}

  static async of(dir: string, schema: EventSchema): Promise<ArchiveHours> {
    const root = schemaDir(dir, schema);
    const names = await readdir(root).catch(() => [] as string[]);
    const days = names.flatMap((n) => {
      const m = DAY_FOLDER.exec(n);
      const t = m ? Date.parse(`${m[1]}T00:00:00Z`) : Number.NaN;
      return Number.isFinite(t) ? [t] : [];
    });
    return new ArchiveHours(root, days.sort((a, b) => a - b));
  }

  /** The start of the archive's first day (undefined: no day folder). */
  get firstDay(): number | undefined {
    return this.days[0];
  }

  /** The hours (with files) of the day starting at `day`, in time order. */
  hoursOfDay(day: number): Promise<ArchiveHour[]> {
    let hours = this.byDay.get(day);
    if (!hours) this.byDay.set(day, (hours = this.listDay(day)));
    return hours;
  }

  /** The hours with files that start before `before`, newest first. */
  async *backFrom(before: number): AsyncGenerator<ArchiveHour> {
    for (let i = this.days.length - 1; i >= 0; i--) {
      const day = this.days[i]!;
      if (day >= before) continue;
      const hours = await this.hoursOfDay(day);
      for (let h = hours.length - 1; h >= 0; h--) if (hours[h]!.start < before) yield hours[h]!;
    }
  }

  /** The hours with files among `starts` (hour starts, epoch ms), in time order. */
  async hoursAt(starts: ReadonlySet<number>): Promise<ArchiveHour[]> {
    const days = new Set([...starts].map((h) => Math.floor(h / DAY) * DAY));
    const out: ArchiveHour[] = [];
    for (const d of this.days) if (days.has(d)) for (const h of await this.hoursOfDay(d)) if (starts.has(h.start)) out.push(h);
    return out;
  }

  /** Every hour with files that starts before `before`, oldest first (listing only, no data read). */
  async allBefore(before: number): Promise<ArchiveHour[]> {
    const out: ArchiveHour[] = [];
    for (const d of this.days) if (d < before) for (const h of await this.hoursOfDay(d)) if (h.start < before) out.push(h);
    return out;
  }

  /** Every hour with files that ends after `from`, oldest first (listing only, no data read). */
  async allFrom(from: number): Promise<ArchiveHour[]> {
    const out: ArchiveHour[] = [];
    for (const d of this.days) if (d + DAY > from) for (const h of await this.hoursOfDay(d)) if (h.start + 3_600_000 > from) out.push(h);
    return out;
  }

  private async listDay(day: number): Promise<ArchiveHour[]> {
    const out: ArchiveHour[] = [];
    for (const h of await hourFoldersOfDay(this.root, day)) {
      const files = await parquetFilesIn(h.path);
      if (files.length > 0) out.push({ start: h.start, files });
    }
    return out;
  }
}
