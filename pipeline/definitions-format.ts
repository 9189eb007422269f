/**
 * The definitions file format (docs/definitions.md): what a user writes, as JSON or as the default
 * export of a module. `parseDefinitions` (definitions-file.ts) checks it all at once and builds the
 * internal definitions.
 */
export type Duration = string | number;
export type FieldType = string;

export interface SchemaSpec {
  /** The event-time field: a required `timestamp`. */
  readonly time: string;
  /** The event id: a required `string`. */
  readonly id: string;
  /** The field Kafka records are keyed and partitioned by. */
  readonly key?: string;
  /** Field name -> `string | int | double | bool | timestamp | decimal(N)`, `?` for optional. */
  readonly fields: Readonly<Record<string, FieldType>>;
  /** Events more than this ahead of their reference (the Kafka record timestamp, else the wall clock when read) are quarantined; default "1h", "off" to disable. */
  readonly max_future_skew?: Duration | 'off';
  /** Events more than this behind their reference go to the dead letters (reason past_horizon); default "off". */
  readonly past_horizon?: Duration | 'off';
  /** What a JSON number in a `timestamp` field counts: "ms" (default), "s", or "auto" (below 10^11 seconds, else milliseconds). */
  readonly epoch_unit?: 'ms' | 's' | 'auto';
  /** The zone (IANA name, or "UTC") a `timestamp` string without Z or an offset is read in; absent: such strings are dead letters. */
  readonly time_zone?: string;
  /** Field -> other name(s) events may carry it under (a producer's rename), tried when the field is absent or null. */
  readonly aliases?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * Field -> where nested objects and arrays carry it: `"user.id"`, `"items[0].price"` (`[-1]` the last
   * element), or a list of steps (`["meta", "a.b"]`, `["items", 0, "price"]`: keys as strings, indexes
   * as numbers) when a key holds a dot or a bracket; tried after the field's own name and its aliases.
   */
  readonly paths?: Readonly<Record<string, string | readonly (string | number)[]>>;
  readonly description?: string;
}

export type ConditionSpec = readonly [field: string, op: string] | readonly [field: string, op: string, value: unknown];

interface PipelineSpecBase {
  readonly input: string;
  readonly description?: string;
  readonly where?: readonly ConditionSpec[];
  readonly max_out_of_orderness?: Duration;
  readonly allowed_lateness?: Duration;
}

/** An aggregate's own filter, last in its list (`["count", {"where": [...]}]`): after the pipeline's `where`. */
export interface AggregateOptions {
  readonly where: readonly ConditionSpec[];
}

/** `parameter`: approx_distinct's precision (4..16), approx_percentile's quantile (in (0, 1]). */
export type AggregateText =
  | 'count'
  | readonly [kind: string, field?: string, parameter?: number]
  | readonly ['count', AggregateOptions]
  | readonly [kind: string, field: string, options: AggregateOptions]
  | readonly [kind: string, field: string, parameter: number, options: AggregateOptions];

export interface WindowedPipelineSpec extends PipelineSpecBase {
  readonly key?: string | readonly string[];
  /** `offset`: where windows start past the epoch's alignment, e.g. "5h" or "-30m"; shorter than the step (default 0). */
  readonly window: { readonly tumbling: Duration; readonly offset?: Duration } | { readonly hopping: Duration; readonly every: Duration; readonly offset?: Duration };
  readonly aggregates: Readonly<Record<string, AggregateText>>;
}

export interface RuleSpec {
  readonly within: Duration;
  readonly distinct?: string;
  readonly count?: true;
  readonly sum?: string;
  readonly more_than: number;
  readonly output: string;
}

export interface RulePipelineSpec extends PipelineSpecBase {
  readonly key: string;
  readonly rule: RuleSpec;
}

export type PipelineSpec = WindowedPipelineSpec | RulePipelineSpec;

export interface DefinitionsFile {
  readonly schemas: Readonly<Record<string, SchemaSpec>>;
  readonly pipelines: Readonly<Record<string, PipelineSpec>>;
}

/** Typed helpers for definitions modules: they return their argument, checked by TypeScript. */
export const defineSchema = <const S extends SchemaSpec>(schema: S): S => schema;
export const definePipeline = <const P extends PipelineSpec>(pipeline: P): P => pipeline;
export const defineDefinitions = <const F extends DefinitionsFile>(file: F): F => file;
