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
