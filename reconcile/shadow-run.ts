import { archivedSources, readArrivalOrder, type ArchivedEvent } from '../batch/archive-reader.ts';
import type { DuckDb } from '../batch/duckdb.ts';
import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { isBeyondLateness, isDecided } from '../pipeline/lateness.ts';
import { WatermarkTracker } from '../pipeline/watermark.ts';
import type { EventPosition, LateRecord } from '../schemas/results.ts';
import { CollectingEmitter, createOperator } from '../stream/operators/index.ts';

/**
 * The stream semantics over the archive in arrival order (every source holds W from the start, as a
 * worker's partitions do). `unread`: archived events the stream never fed its operators (it quarantined
 * them: stream-quarantine.ts); left out, they move no W here either.
 */
export async function shadowRun(
  db: DuckDb, def: PipelineDefinition, archiveDir: string, unread: (position: EventPosition) => boolean = () => false,
): Promise<{ out: CollectingEmitter; evaluatedLate: LateRecord[]; arrivals: ArchivedEvent[] }> {
  const out = new CollectingEmitter();
  const evaluatedLate: LateRecord[] = [];
  const arrivals = (await readArrivalOrder(archiveDir, def.schema, { db, fields: fieldsRead(def) })).filter((a) => !unread(a.position));
  const tracker = new WatermarkTracker(def.watermark.maxOutOfOrderness);
  tracker.addSources((await archivedSources(archiveDir, def.schema, db)).map((source) => ({ source, idle: false })));
  const op = createOperator(def, out, { tracker });
  for (const a of arrivals) {
    const ts = a.event[def.schema.timeField] as number;
    const w = tracker.current;
    // Rule events that met W - L < ts <= W: evaluated once on arrival (judged against the same W).
    if (def.kind === 'rule' && isDecided(ts, w) && !isBeyondLateness(ts, def.allowedLateness, w)) {
      evaluatedLate.push({ pipeline: def.name, event: a.event, position: a.position, watermark: w });
    }
    op.process(a.event, a.position);
  }
  op.finish();
  return { out, evaluatedLate, arrivals };
}
