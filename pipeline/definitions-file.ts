/**
 * The definitions file's entry point (users import the define* helpers from here): the format and
 * helpers live in definitions-format.ts, the per-section checks in parse-*-spec.ts.
 */

import type { EventSchema } from '../schemas/schema.ts';
import type { PipelineDefinition } from './definition.ts';
import { isObject, Problems, q } from './definitions-problems.ts';
import { DefinitionError } from './errors.ts';
import { parsePipeline } from './parse-pipeline-spec.ts';
import { parseSchema } from './parse-schema-spec.ts';
import { Registry } from './registry.ts';
import { nameProblem, quotedName } from './names.ts';

export {
  defineDefinitions, definePipeline, defineSchema,
  type AggregateOptions, type AggregateText, type ConditionSpec, type DefinitionsFile, type Duration, type FieldType,
  type PipelineSpec, type RulePipelineSpec, type RuleSpec, type SchemaSpec, type WindowedPipelineSpec,
} from './definitions-format.ts';

/** A definitions file with problems: every one of them, each naming its place. */
export class DefinitionsFileError extends DefinitionError {
  readonly problems: readonly string[];
  constructor(origin: string, problems: readonly string[]) {
    super(`${origin}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the definitions:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

// A name refused since 2026-12-06 was valid before: renaming what ran under it leaves its state behind.
const RENAMED_SCHEMA = ' (a schema that ran under the old name keeps its topic and archive folder under it: see "Upgrading" in docs/operations.md)';
const RENAMED_PIPELINE = ' (a pipeline that ran under the old name is another pipeline once renamed: its stored days, checkpoints and jobs stay under the old name; see "Upgrading" in docs/operations.md)';

/**
 * Checks a definitions file's content and builds the registry; throws `DefinitionsFileError` with
 * every problem found (each `place: what is wrong`), never only the first.
 */
export function parseDefinitions(content: unknown, origin: string): Registry {
  const p = new Problems();
  if (!isObject(content)) throw new DefinitionsFileError(origin, [`(file): expected an object {"schemas": {...}, "pipelines": {...}}, got ${q(content)?.slice(0, 80)}`]);
  p.keys('(file)', content, ['schemas', 'pipelines', '$schema', 'description']);
  const schemas = new Map<string, EventSchema>();
  if (!isObject(content.schemas) || Object.keys(content.schemas).length === 0) p.add('schemas', 'expected at least one schema, e.g. {"clicks": {"time": "ts", "id": "event_id", "fields": {...}}}');
  else for (const [name, spec] of Object.entries(content.schemas)) {
    const badName = nameProblem(name);
    if (badName) p.add(`schemas[${quotedName(name)}]`, `the schema name ${badName}${RENAMED_SCHEMA}`);
    const schema = parseSchema(p, name, spec);
    if (schema) schemas.set(name, schema);
  }
  const pipelines: PipelineDefinition[] = [];
  if (!isObject(content.pipelines)) p.add('pipelines', 'expected an object of pipeline name -> definition');
  else for (const [name, spec] of Object.entries(content.pipelines)) {
    if (name.length === 0) p.add('pipelines.""', 'a pipeline needs a name: "" names none (--pipeline NAME selects it)');
    else if (name === 'all') p.add(`pipelines.${name}`, `${q(name)} cannot name a pipeline ("all" selects every pipeline)`);
    const badName = nameProblem(name);
    if (badName) p.add(`pipelines[${quotedName(name)}]`, `the pipeline name ${badName}${RENAMED_PIPELINE}`);
    const def = parsePipeline(p, name, spec, schemas);
    if (def) pipelines.push(def);
  }
  // Schemas may be drafts (no time or id field) when problems stand: nothing is built from them.
  if (p.list.length > 0) throw new DefinitionsFileError(origin, p.list);
  return new Registry([...schemas.values()], pipelines, origin);
}
