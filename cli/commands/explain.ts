import { replayStatements } from '../../batch/replay.ts';
import type { AggregateSpec } from '../../pipeline/aggregates.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { presentCondition, type Condition } from '../../pipeline/filter.ts';
import { formatDuration } from '../../pipeline/time.ts';
import { windowAlignmentText } from '../../pipeline/windows.ts';
import { pathOf, pathText } from '../../schemas/field-paths.ts';
import { formatUtcOffset, yearUtcOffsets } from '../../schemas/time-zones.ts';
import { aliasesOf, fieldTypeName, presentValue, type EventSchema, type FieldValue } from '../../schemas/schema.ts';
import type { CommandSpec } from '../args.ts';
import { loadSettings } from '../config.ts';
import { loadRegistry, timingFlags, timingOptions } from './shared.ts';
import { runningVersion } from './validate.ts';

export const explainCommand: CommandSpec = {
  name: 'explain',
  summary: 'show how a pipeline runs: the stream plan and the exact DuckDB SQL of its replay',
  usage: 'concord explain --pipeline NAME|all [--archive DIR] [--max-out-of-orderness D] [--allowed-lateness D]',
  options: ['--pipeline NAME            a pipeline of the definitions; all: each pipeline in turn', '--archive DIR              archive root the replay SQL reads (default archive)', ...timingOptions],
  flags: { pipeline: { type: 'string' }, archive: { type: 'string' }, ...timingFlags },
  required: ['pipeline'],
  async run(v) {
    const registry = await loadRegistry(v);
    // As the commands run it: B and L of flags, env or --config (it showed the file's, and another version).
    const settings = loadSettings(v);
    const archive = String(v.archive ?? 'archive');
    // `all` (a name no pipeline may take) explains every pipeline in turn, as `run --pipeline all` runs them.
    const plans = registry.select(String(v.pipeline)).map((own) => {
      const def = withTiming(own, settings);
      const sql = replayStatements(def, archive, def.kind === 'windowed' ? { exactDistinct: false } : {});
      return [...streamPlan(def, runningVersion(own, settings)), '', `Replay (DuckDB over ${archive}/${def.schema.name}/dt=*/hour=*/*.parquet; \`concord replay\` adds exact distinct counts next to sketches):`, ...sql.map((s, i) => `-- statement ${i + 1}\n${s};`)].join('\n');
    });
    process.stdout.write(`${plans.join(`\n\n${'='.repeat(72)}\n\n`)}\n`);
    return 0;
  },
};

function conditionText(schema: EventSchema, held: Condition): string {
  const c = presentCondition(schema, held);
  const show = (x: FieldValue) => JSON.stringify(x);
  switch (c.op) {
    case 'is null':
    case 'is not null':
      return `${c.field} ${c.op}`;
    case 'in':
    case 'not in':
      return `${c.field} ${c.op} (${c.value.map(show).join(', ')})`;
    default:
      return `${c.field} ${c.op} ${show(c.value)}`;
  }
}

function aggregateText(spec: AggregateSpec): string {
  if (spec.kind === 'count') return 'count: one counter';
  if (spec.kind === 'approx_distinct') return `approx_distinct(${spec.field}): HyperLogLog, 2^${spec.precision ?? 14} registers (pinned MurmurHash3, bit-identical in replay)`;
  if (spec.kind === 'approx_percentile') return `approx_percentile(${spec.field}, ${spec.quantile}): a log-linear histogram, a count per bucket of 2^-7 relative width (exact bucketing, bit-identical in replay)`;
  if (spec.kind === 'count_distinct') return `count_distinct(${spec.field}): the set of distinct values (exact; grows with them)`;
  if (spec.kind === 'sum' || spec.kind === 'avg') return `${spec.kind}(${spec.field}): sum and count of non-null values`;
  return `${spec.kind}(${spec.field}): one value`;
}

/** Where the fields read elsewhere than their own name are found (`aliases`, `paths`), in the order tried. */
function readPlaces(schema: EventSchema): string[] {
  return Object.keys(schema.fields).flatMap((n) => {
    const others = aliasesOf(schema.aliases, n).map((a) => JSON.stringify(a));
    const path = pathOf(schema.paths, n);
    if (others.length === 0 && path === undefined) return [];
    return [`             ${n} read as ${[JSON.stringify(n), ...others, ...(path === undefined ? [] : [`at ${pathText(path)}`])].join(', then ')}`];
  });
}

/** An aggregate's own filter, after its state: what it feeds the accumulator ('' without one). */
function filterText(schema: EventSchema, where: readonly Condition[] | undefined): string {
  return where ? `, of the events where ${where.map((c) => conditionText(schema, c)).join(' AND ')}` : '';
}

/** The stream runtime's plan for a definition, as lines a person reads. */
function streamPlan(def: PipelineDefinition, version: string): string[] {
  const schema = def.schema;
  const B = def.watermark.maxOutOfOrderness, L = def.allowedLateness;
  const partitionKey = schema.keyField ?? schema.idField;
  const keys = def.kind === 'windowed' ? def.key : [def.key];
  const merged = def.kind === 'windowed' ? !def.key.includes(partitionKey) : def.key !== partitionKey;
  const lines = [
    `${def.name}: ${def.kind} pipeline over schema ${schema.name}, definition version ${version}`,
    ...(def.description ? [`  ${def.description}`] : []),
    '',
    'Stream plan:',
    `  input      ${schema.name} events (${Object.entries(schema.fields).map(([n, f]) => `${n} ${fieldTypeName(f)}`).join(', ')}); event time ${schema.timeField}, id ${schema.idField}`,
    ...readPlaces(schema),
    ...(schema.timeZone === undefined ? [] : [`             timestamps without Z or an offset ("2026-11-23 10:00:05") read in ${schema.timeZoneAsWritten ?? schema.timeZone}, daylight saving as java.time resolves it`, ...repeatedHourText(schema.timeZone)]),
    '             invalid events go to the dead letters with the reason',
    `  watermark  W = max(${schema.timeField}) - ${formatDuration(B)} - 1 ms per source (B = ${formatDuration(B)}), the minimum over non-idle sources;`,
    '             every valid event moves it, whether or not the filter keeps it',
    `  filter     ${def.where.length === 0 ? '(none: every event)' : def.where.map((c) => conditionText(schema, c)).join(' AND ')}`,
  ];
  if (def.kind === 'windowed') {
    const w = def.window;
    lines.push(
      `  windows    ${w.kind === 'tumbling' ? `tumbling ${formatDuration(w.size)}` : `hopping ${formatDuration(w.size)} every ${formatDuration(w.slide)}`}, [start, end) ${windowAlignmentText(w)}`,
      `  firing     a window fires (revision 0) when W >= end - 1; until W >= end - 1 + L (L = ${formatDuration(L)}) a later event`,
      '             updates it and re-emits the full value at the next revision; after that events go to the late output',
      `  key        ${def.key.length === 0 ? '(none: one group per window)' : def.key.join(', ')}; null is a group of its own`,
      `  state      per open window and key: ${def.aggregates.map((a) => `${a.output} = ${aggregateText(a.aggregate)}${filterText(schema, a.where)}`).join('; ')}`,
    );
  } else {
    const r = def.rule;
    const measure = r.measure === 'count' ? 'the number of events' : r.measure === 'sum' ? `the sum of ${r.field}` : `the distinct non-null values of ${r.field}`;
    lines.push(
      `  rule       per ${def.key}, in (${schema.timeField}, ${schema.idField}) order: M = ${measure} over (t - ${formatDuration(r.span)}, t];`,
      `             alert (output ${r.output}) when M > ${presentValue(r.field === undefined ? undefined : schema.fields[r.field], r.threshold)} and it was not at the key's previous event`,
      `  deciding   an event is decided once W >= its time; a late one with time > W - L (L = ${formatDuration(L)}) is evaluated on arrival,`,
      '             older ones go to the late output',
      `  state      per key: its events of the last ${formatDuration(r.span)} + L (forgotten as W passes)`,
    );
  }
  lines.push(
    `  over Kafka topic <prefix>${schema.name}, records keyed by ${partitionKey}; one operator per partition; ` +
      (merged
        ? `the key (${keys.join(', ') || 'none'}) is not the partition key, so per-partition ${def.kind === 'windowed' ? 'partial aggregates' : 'events'} go to the merge stage, combined at W = min over partitions`
        : `the key includes the partition key ${partitionKey}: each partition holds all of a key's events (no merge stage)`),
  );
  return lines;
}

/**
 * What a zone's autumn change does to local times: the repeated hour's times are read at its first pass,
 * so a producer's readings of the second pass land the change's length early (late, or in the wrong window).
 */
function repeatedHourText(zone: string): string[] {
  const offsets = yearUtcOffsets(zone, new Date().getUTCFullYear());
  if (offsets.length < 2) return [];
  const summer = offsets[offsets.length - 1]!, change = formatDuration(summer - offsets[0]!);
  return [`             when clocks go back (by ${change}) a time in the repeated span is read at its first pass (UTC${formatUtcOffset(summer)}): the second pass's times land ${change} early; send those with their offset`];
}
