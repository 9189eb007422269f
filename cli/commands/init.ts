import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { seedDefinitionsPath } from '../../examples/seed-path.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { writeTextFile } from '../../stream/sinks/jsonl-writer.ts';
import type { CommandSpec } from '../args.ts';
import { checkPath } from '../paths.ts';

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'write a commented starter definitions file (the seed pipelines) to edit',
  usage: 'concord init [--output concord.definitions.ts] [--format ts|json] [--force]',
  options: [
    '--output FILE              where to write (default concord.definitions.ts, or concord.definitions.json with --format json)',
    '--format ts|json           a TypeScript module with comments (default), or plain JSON; with --output, by default',
    '                           the format its extension is loaded as (.ts: a module, .json and others: JSON)',
    '--force                    overwrite an existing file',
    'Then: concord validate --definitions FILE, and pass --definitions FILE (or set CONCORD_DEFINITIONS) to every command.',
  ],
  flags: { output: { type: 'string' }, format: { type: 'string' }, force: { type: 'boolean' } },
  // It writes the definitions file (--output): a --definitions flag was listed in its help and never read.
  readsDefinitions: false,
  async run(v) {
    if (v.format !== undefined && v.format !== 'ts' && v.format !== 'json') throw new ConfigError(`--format ${String(v.format)}: use ts or json`);
    const format = formatFor(v.output as string | undefined, v.format as 'ts' | 'json' | undefined);
    const output = String(v.output ?? `concord.definitions.${format}`);
    checkPath('--output', output, { kind: 'write-file' }); // the default too
    // A device or a pipe (`--output -`, /dev/stdout) is written into, not over: no --force for it, and no
    // note about a file to validate next (it said "/dev/stdout exists"; the note would join the text).
    const existing = await stat(output).catch(() => undefined);
    if (!v.force && existing?.isFile()) throw new ConfigError(`${output} exists; pass --force to overwrite it, or --output another file`);
    await writeTextFile(output, format === 'json' ? await readFile(seedDefinitionsPath, 'utf8') : STARTER_MODULE); // its directory is made
    if (existing !== undefined && !existing.isFile()) return 0;
    process.stdout.write(`wrote ${output}: the seed pipelines (page views, unique visitors, card fraud) to edit\n` +
      `next: concord validate --definitions ${output}\n`);
    return 0;
  },
};

/**
 * The format to write: the one the file's name will be loaded as (pipeline/load-definitions.ts: a .ts
 * file is a module, anything but a module extension is JSON). `--output d.json` wrote the TypeScript
 * starter into d.json, and `--format json --output d.ts` JSON into a module: neither loaded. A .js file
 * fits neither (the starter is TypeScript, JSON is no module): refused, naming what would.
 */
export function formatFor(output: string | undefined, format: 'ts' | 'json' | undefined): 'ts' | 'json' {
  if (output === undefined) return format ?? 'ts';
  const ext = extname(output).toLowerCase();
  if (['.js', '.mjs', '.cjs'].includes(ext)) {
    throw new ConfigError(`--output ${output}: a ${ext} file is loaded as JavaScript, and the starter is TypeScript or JSON; name a .ts or a .json file`);
  }
  const byName = ['.ts', '.mts', '.cts'].includes(ext) ? 'ts' : 'json';
  if (format !== undefined && format !== byName) {
    throw new ConfigError(`--output ${output} is loaded as ${byName === 'ts' ? 'a TypeScript module' : 'JSON'} (by its extension), not ${format}: name a .${format} file, or drop --format`);
  }
  return byName;
}

/** The seed definitions (examples/seed.definitions.json) as a module, with what each part means. */
export const STARTER_MODULE = `// Concord definitions: your event schemas and the pipelines over them, in one file.
// Every command takes it: --definitions concord.definitions.ts (or env CONCORD_DEFINITIONS).
// Check it with \`concord validate\`; see how a pipeline runs with \`concord explain --pipeline NAME\`.
// The format is docs/definitions.md; this file holds the seed pipelines to start from.
import type { DefinitionsFile } from 'concord';

export default {
  schemas: {
    clicks: {
      description: 'Website click events',
      time: 'ts', // event time: a required timestamp (epoch ms or ISO-8601 with a zone)
      id: 'event_id', // event id: a required string (names late and rejected events)
      key: 'url', // Kafka records of this schema are keyed (partitioned) by this field
      // Types: string, int, double, bool, timestamp, decimal(N) (exact, N decimals); a trailing ? = optional.
      fields: {
        event_id: 'string', ts: 'timestamp', url: 'string', visitor_id: 'string',
        country: 'string?', referrer: 'string?', user_agent: 'string?',
      },
      // Fields inside nested objects ({"visitor": {"id": ...}}) or arrays ({"tags": [...]}): where each lives, read when the flat name is absent.
      // paths: { visitor_id: 'visitor.id', country: 'geo[0].country' }, // [-1] the last element; a list for a key holding a dot: ['meta', 'a.b']
    },
    transactions: {
      description: 'Card transactions',
      time: 'ts', id: 'txn_id', key: 'user_id',
      fields: {
        txn_id: 'string', ts: 'timestamp', user_id: 'string', country: 'string',
        amount: 'decimal(2)', // exact: "12.34" or 12.34; more decimals are rejected
        currency: 'string?', merchant: 'string?',
      },
    },
  },
  pipelines: {
    // A windowed pipeline: key -> window -> aggregates (count, sum, min, max, avg, count_distinct, approx_distinct, approx_percentile).
    page_views_per_minute: {
      description: 'Page views per minute per URL',
      input: 'clicks',
      // where: [['country', 'in', ['PT', 'ES']], ['referrer', 'is not null']], // AND of conditions (optional)
      key: ['url'], // zero or more fields; a null value is a group of its own
      window: { tumbling: '1m' }, // or { hopping: '30m', every: '10m' }; offset: '5h' shifts the starts (days at UTC-05:00: { tumbling: '24h', offset: '5h' })
      aggregates: { views: 'count' }, // one's own filter, after the pipeline's: from_pt: ['count', { where: [['country', '=', 'PT']] }]
      max_out_of_orderness: '30s', // B: the watermark trails the newest event time by this
      allowed_lateness: '5m', // L: a fired window still takes events this long, re-emitting revisions
    },
    unique_visitors_5m: {
      description: 'Unique visitors per 5 minutes (HyperLogLog, 2^14 registers)',
      input: 'clicks', key: [], window: { tumbling: '5m' },
      aggregates: { visitors: ['approx_distinct', 'visitor_id', 14] }, // the same sketch in stream and replay
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    },
    // A rule: per key, in (time, id) order, a measure over (t - within, t] -- distinct FIELD, count: true or
    // sum FIELD -- alerts at the event where it first exceeds more_than.
    fraud_multi_country: {
      description: 'Flag a user with transactions from more than 3 different countries within 10 minutes',
      input: 'transactions', key: 'user_id',
      rule: { within: '10m', distinct: 'country', more_than: 3, output: 'countries' },
      max_out_of_orderness: '30s', allowed_lateness: '5m',
    },
  },
} satisfies DefinitionsFile;
`;
