import { shellWord } from '../pipeline/names.ts';
import type { DayStatus } from '../store/store-reads.ts';
import type { DayReconciliation } from './day-report.ts';
import { mdCell, mdCode } from './markdown.ts';
import { CAUSES, type Cause, type Difference } from './reconcile-report.ts';

/**
 * The answer to "why do yesterday's dashboard numbers differ from today's report?", one paragraph per
 * pipeline, for the first screen of `concord report` and the report files: how many cells (alerts) the
 * correction changed, each cause in words with its count, how late the late events were, what changed
 * since, and the command to run next. The tables below it hold the same numbers cell by cell.
 */
export interface HeadlineInput {
  date: string;
  pipeline: string;
  /** Rule pipelines count alerts, windowed ones cells. */
  kind: 'windowed' | 'rule';
  reconciliation: DayReconciliation | null;
  /** The day's status now (`concord report`); absent in a reconciliation's own report file. */
  status?: DayStatus;
  /** Live cells by the writer that wrote them (`backfill`: recomputed since the reconciliation). */
  liveProvenance?: Readonly<Record<string, number>>;
  /**
   * Windows: the outputs of the additive aggregates (count, sum), whose differences add up to what the
   * day's total changed by; `overlapping` (hopping windows): an event counts in each of its windows.
   */
  totals?: { readonly names: readonly string[]; readonly overlapping: boolean };
  /** The latest run, when it published nothing (`unchanged`): it compared the realtime numbers with the live version as it is now. */
  recheck?: DayReconciliation;
  /**
   * The definition versions of the day's live rows and of the stream's own rows (version 0; none: the
   * stream wrote no rows of the day), and the one the definitions given compute (`concord report`).
   * `reconcile --date` and `backfill --date` refuse a day computed by another version than the one given,
   * so what to run next depends on them.
   */
  definitions?: { readonly live: readonly string[]; readonly stream: readonly string[]; readonly given: string };
}

/** What each cause means for a reader: why the cells (or alerts) it names differ. */
const CAUSE_WORDS: Record<Cause, string> = {
  late_beyond_lateness: 'events arrived after their window had closed, beyond the allowed lateness',
  late_within_lateness: 'decided on events that came late within the allowed lateness',
  idle_wakeup: 'an input partition woke up from idle behind the others',
  update_after_read: 'the dashboard read them before the stream corrected them',
  missing_window: 'the stream never produced them (it was down, or its output was lost)',
  duplicate: 'an event delivered more than once was counted each time; the report counts it once',
  future_timestamp: 'events quarantined for a timestamp too far ahead of their arrival',
  parse_reject: 'events refused for a malformed field',
  archive_gap: 'events missing from the archive',
  archive_added: 'events archived after the day\'s first reconcile, or appended to their file after the stream read it, which the stream never read',
  other_run: 'the stored value is one input\'s alone: another run over other input of the same windows, or a file only archived, is missing from it',
  mis_keyed: 'counted per partition over a topic not keyed by the schema\'s key field',
  unexplained: 'no cause found',
};

/** A rule has no windows: its late events came after the stream had decided their time (pipeline/lateness.ts). */
const RULE_CAUSE_WORDS: Partial<Record<Cause, string>> = {
  late_beyond_lateness: 'events arrived after the stream had decided their time, beyond the allowed lateness',
};

/** A duration as a person reads it: `1h 28m`, `12m 5s`, `40s`, `250ms`. */
export function spokenDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1000);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return sec > 0 ? `${m}m ${sec}s` : `${m}m`;
  return `${sec}s`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/**
 * The late events the differences name that met a watermark (each once, by position), with how far
 * behind it each arrived: the stream's event-time clock minus the event's time.
 */
function lateness(differences: readonly Difference[]): number[] {
  const seen = new Map<string, number>();
  for (const d of differences) {
    if (d.cause !== 'late_beyond_lateness' && d.cause !== 'archive_added') continue;
    for (const e of d.late_events) {
      if (e.watermark === undefined) continue;
      seen.set(`${e.source}\u0000${e.offset}`, Date.parse(e.watermark) - Date.parse(e.ts));
    }
  }
  return [...seen.values()];
}

/** A signed number as a person reads it: `+17`, `-612.44` (a sum of doubles rounded to 6 decimals). */
const signed = (x: number) => `${x > 0 ? '+' : ''}${(Math.round(x * 1e6) / 1e6).toLocaleString('en-US', { maximumFractionDigits: 6 })}`;

/** How much the report's totals differ from the dashboard's, per additive aggregate, over the differing cells. */
function totalsChange(r: DayReconciliation['report'], totals: NonNullable<HeadlineInput['totals']>): string | undefined {
  const of = (v: Record<string, unknown> | null, name: string) => (typeof v?.[name] === 'number' ? (v[name] as number) : 0);
  const changes = totals.names.map((name) => [name, r.differences.reduce((a, d) => a + of(d.replay, name) - of(d.realtime, name), 0)] as const);
  const said = changes.filter(([, x]) => x !== 0).map(([name, x]) => `${mdCell(name)} ${signed(x)}`);
  if (said.length === 0) return undefined;
  return `Over those cells the report's totals differ from the dashboard's by ${said.join(', ')}` +
    `${totals.overlapping ? ' (hopping windows overlap: an event counts in each of its windows)' : ''}.`;
}

/** What a reconciliation found, in words: the differences by cause and how late the late events were. */
function findings(rec: DayReconciliation, unit: string, against: string, totals?: HeadlineInput['totals']): string[] {
  const r = rec.report;
  if (r.different === 0) return [`the realtime numbers equal ${against} in all ${plural(r.cells, unit)}.`];
  const share = r.cells === 0 ? '' : ` (${((100 * r.different) / r.cells).toFixed(2)}%)`;
  const words = (c: Cause) => (unit === 'alert' ? RULE_CAUSE_WORDS[c] : undefined) ?? CAUSE_WORDS[c];
  const causes = CAUSES.filter((c) => r.causes[c] > 0).map((c) => `${plural(r.causes[c], unit)} \`${c}\` (${words(c)})`);
  const out = [`the realtime numbers (what the dashboard showed) differ from ${against} in ${r.different.toLocaleString('en-US')} of ${plural(r.cells, unit)}${share}` +
    `${r.unexplained === 0 ? ', every difference explained' : `, **${plural(r.unexplained, unit)} unexplained**`}: ${causes.join('; ')}.`];
  const change = totals && totalsChange(r, totals);
  if (change) out.push(change);
  if (unit === 'alert' && r.metrics.missing + r.metrics.extra > 0) {
    out.push(`The dashboard showed ${plural(r.metrics.extra, 'alert')} the report withdraws and missed ${plural(r.metrics.missing, 'alert')} it raises.`);
  }
  const late = lateness(r.differences);
  if (late.length > 0) {
    const [lo, hi] = [Math.min(...late), Math.max(...late)];
    out.push(`The ${plural(late.length, 'late event')} behind them arrived ${lo === hi ? spokenDuration(lo) : `${spokenDuration(lo)} to ${spokenDuration(hi)}`} after the stream's clock had passed their time ` +
      `(allowed lateness ${r.allowed_lateness}, out-of-orderness ${r.max_out_of_orderness}).`);
  }
  return out;
}

/** One pipeline's paragraph (Markdown). */
export function pipelineHeadline(p: HeadlineInput): string {
  const name = `**${mdCell(p.pipeline)}**`;
  const archive = `--pipeline ${shellWord(p.pipeline)} --archive DIR`;
  const rec = p.reconciliation;
  const next: string[] = [];
  const defs = p.definitions;
  // `backfill --from D --to D` recomputes a day whole under the definitions given, whichever computed it.
  const recompute = mdCode(`concord backfill --from ${p.date} --to ${p.date} ${archive}`);
  const otherLive = defs ? defs.live.filter((v) => v !== defs.given) : [];
  const computedBy = (versions: readonly string[]) => `definition version ${versions.join(' and ')}; the definitions given compute ${defs?.given ?? ''}`;
  if (p.status && p.status.dirty > 0) {
    next.push(otherLive.length === 0
      ? `${plural(p.status.dirty, 'cell')} changed since the last reconcile or backfill (late data): run ${mdCode(`concord backfill --date ${p.date} ${archive}`)}.`
      : `${plural(p.status.dirty, 'cell')} changed since the last reconcile or backfill (late data), in a day computed by ${computedBy(otherLive)}: ` +
        `${mdCode(`concord backfill --date ${p.date} ${archive}`)} recomputes them only with the definitions of ${otherLive.join(' and ')} (under these it refuses the day); ` +
        `${recompute} recomputes the whole day under these.`);
  }
  if (rec === null) {
    if (defs && defs.stream.length === 0 && p.status && p.status.liveGeneration > 0) {
      // A pipeline added after the day, recomputed from the archive: there are no realtime numbers to diff.
      return `${name}: version ${p.status.liveGeneration} was recomputed from the archive (\`concord backfill\`); the stream wrote no rows of this day ` +
        `(the pipeline was added after it?), so there is nothing to reconcile. ${next.join(' ')}`.trimEnd();
    }
    const otherStream = defs ? defs.stream.filter((v) => v !== defs.given) : [];
    if (otherStream.length > 0) {
      return `${name}: not reconciled yet; the numbers are the stream's own (version 0), as the dashboard showed them, computed by ${computedBy(otherStream)}. ` +
        `${mdCode(`concord reconcile --date ${p.date} ${archive}`)} compares a day only with the definition that computed it: run it with the definitions of ${otherStream.join(' and ')} ` +
        `once the day is archived, or recompute the day under these with ${recompute}. ${next.join(' ')}`.trimEnd();
    }
    return `${name}: not reconciled yet; the numbers are the stream's own (version 0), as the dashboard showed them. ` +
      `Run ${mdCode(`concord reconcile --date ${p.date} ${archive}`)} once the day is archived. ${next.join(' ')}`.trimEnd();
  }
  const unit = p.kind === 'rule' ? 'alert' : 'cell';
  const published = rec.generation === null ? 'the replay of the archive' : `version ${rec.generation}`;
  const parts: string[] = [];
  const backfilled = p.liveProvenance?.backfill ?? 0;
  const recheck = p.recheck && p.recheck.reconciled_at > rec.reconciled_at && p.recheck.generation === rec.generation ? p.recheck : undefined;
  if (recheck && backfilled > 0) {
    // The live version changed since it was published (a backfill): the latest check compares the realtime
    // numbers with it as it is now; the tables below are of the run that published it.
    parts.push(...findings(recheck, unit, `${published} as backfilled since (checked ${recheck.reconciled_at})`, p.totals));
    parts.push(`A backfill recomputed ${plural(backfilled, unit)} of ${published} after it was published (${rec.reconciled_at}, ${plural(rec.report.different, 'difference')} then): the tables below are of that run.`);
  } else {
    parts.push(...findings(rec, unit, published, p.totals));
    if (backfilled > 0 && p.status?.liveGeneration === rec.generation) {
      parts.push(`Since then a backfill recomputed ${plural(backfilled, unit)} of ${published} from late data: ` +
        `${mdCode(`concord reconcile --date ${p.date} ${archive}`)} compares the realtime numbers with the day as it is now.`);
      next.push('');
    }
  }
  if (rec.status === 'failed_unexplained') {
    next.unshift('No correction was published: the dashboard\'s numbers stay live until the unexplained differences are understood ' +
      `(the tables below), then ${mdCode(`concord reconcile --date ${p.date} ${archive} --force`)} publishes the replay.`);
  }
  if (p.status && rec.generation !== null && p.status.liveGeneration !== rec.generation) {
    parts.push(`Version ${p.status.liveGeneration} is live now (a later backfill or revert), not the one this reconciliation published.`);
  }
  if (next.length === 0 && otherLive.length > 0) {
    // Old days keep the numbers of the definition that computed them, as a changed Flink job starts anew;
    // recomputing them under the new one is the reader's choice, not a chore left undone.
    next.push(`Its live rows are of ${computedBy(otherLive)}: ${recompute} recomputes the day under them, if wanted.`);
  }
  if (next.length === 0) next.push('Nothing to run.');
  return `${name}: ${[...parts, ...next].filter((x) => x !== '').join(' ')}`;
}

/** Every pipeline's paragraph, under one heading. */
export function dayHeadlines(pipelines: readonly HeadlineInput[]): string {
  return ['## In short', '', ...pipelines.flatMap((p) => [pipelineHeadline(p), ''])].join('\n').trimEnd();
}
