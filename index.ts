/**
 * Concord's library entry, for definitions modules:
 *
 *   import { defineSchema, definePipeline, defineDefinitions } from 'concord';
 *   export default defineDefinitions({ schemas: { ... }, pipelines: { ... } });
 *
 * The define* helpers return their argument unchanged (types only); parseDefinitions and
 * loadDefinitionsFile check a definitions object or file and build the Registry the commands run.
 */
export {
  defineSchema,
  definePipeline,
  defineDefinitions,
  parseDefinitions,
  DefinitionsFileError,
  type DefinitionsFile,
  type SchemaSpec,
  type PipelineSpec,
  type WindowedPipelineSpec,
  type RulePipelineSpec,
  type RuleSpec,
  type ConditionSpec,
  type AggregateOptions,
  type AggregateText,
  type Duration,
} from './pipeline/definitions-file.ts';
export { loadDefinitionsFile } from './pipeline/load-definitions.ts';
export { Registry } from './pipeline/registry.ts';
