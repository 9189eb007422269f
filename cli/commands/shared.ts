import { builtinPipelines, pipelineByName } from '../../pipeline/builtins.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import type { CommandSpec } from '../args.ts';

export const timingFlags: CommandSpec['flags'] = {
  'max-out-of-orderness': { type: 'string' },
  'allowed-lateness': { type: 'string' },
  config: { type: 'string' },
};

export const timingOptions = [
  '--max-out-of-orderness D   watermark bound B (default 30s); durations: integer with ms|s|m|h, bare = ms',
  '--allowed-lateness D       allowed lateness L (default 5m)',
  '--config FILE              JSON settings {maxOutOfOrderness, allowedLateness}; env CONCORD_CONFIG,',
  '                           CONCORD_MAX_OUT_OF_ORDERNESS, CONCORD_ALLOWED_LATENESS (flags win)',
];

export const storeFlags: CommandSpec['flags'] = { store: { type: 'string' } };

export const storeOptions = [
  '--store URL                result store: duckdb:<file> (default duckdb:.concord/store.duckdb, one process)',
  '                           or postgres://user@host:port/db (several processes); env CONCORD_STORE',
];

/** The store named by --store, else CONCORD_STORE, else the embedded default. */
export function storeUrl(v: Record<string, unknown>): string | undefined {
  return typeof v.store === 'string' ? v.store : undefined;
}

/** `--pipeline NAME|all` (default all) with the timing settings applied. */
export function pipelinesFor(name: unknown, timing: { maxOutOfOrderness?: number; allowedLateness?: number }): PipelineDefinition[] {
  const chosen = name === undefined || name === 'all' ? builtinPipelines : [pipelineByName(String(name))];
  return chosen.map((p) => withTiming(p, timing));
}
