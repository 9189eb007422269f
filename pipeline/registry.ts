import type { EventSchema } from '../schemas/schema.ts';
import type { PipelineDefinition } from './definition.ts';
import { ConfigError } from './errors.ts';

/**
 * The loaded definitions: every schema and pipeline of one definitions file (or the seed example),
 * loaded once by the CLI and passed down. Nothing below `cli/` knows a pipeline by name otherwise.
 */
export class Registry {
  readonly schemas: ReadonlyMap<string, EventSchema>;
  readonly pipelines: readonly PipelineDefinition[];
  /** Where the definitions came from (a file path), for messages. */
  readonly origin: string;

  constructor(schemas: readonly EventSchema[], pipelines: readonly PipelineDefinition[], origin: string) {
    this.schemas = new Map(schemas.map((s) => [s.name, s]));
    this.pipelines = pipelines;
    this.origin = origin;
  }

  schema(name: string): EventSchema {
    const found = this.schemas.get(name);
    if (!found) throw new ConfigError(`unknown schema "${name}" in ${this.origin}; schemas: ${[...this.schemas.keys()].join(', ') || '(none)'}`);
    return found;
  }

  pipeline(name: string): PipelineDefinition {
    const found = this.pipelines.find((p) => p.name === name);
    if (!found) throw new ConfigError(`unknown pipeline "${name}" in ${this.origin}; pipelines: ${this.pipelines.map((p) => p.name).join(', ') || '(none)'}`);
    return found;
  }

  /** `NAME`, or every pipeline for `all` / nothing. */
  select(name?: string): PipelineDefinition[] {
    return name === undefined || name === 'all' ? [...this.pipelines] : [this.pipeline(name)];
  }

  /** The pipelines reading one schema. */
  pipelinesOf(schema: string): PipelineDefinition[] {
    return this.pipelines.filter((p) => p.schema.name === schema);
  }

  /** Fields some pipeline of this schema sketches with HyperLogLog: the archive stores their hashes. */
  sketchedFields(schema: string): string[] {
    const fields = new Set<string>();
    for (const p of this.pipelinesOf(schema)) {
      if (p.kind !== 'windowed') continue;
      for (const a of p.aggregates) if (a.aggregate.kind === 'approx_distinct') fields.add(a.aggregate.field);
    }
    return [...fields];
  }

  /** Same registry with every pipeline mapped (e.g. timing overrides from flags). */
  map(f: (def: PipelineDefinition) => PipelineDefinition): Registry {
    return new Registry([...this.schemas.values()], this.pipelines.map(f), this.origin);
  }
}
