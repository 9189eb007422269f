import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fieldsRead, type PipelineDefinition } from '../pipeline/definition.ts';
import { DefinitionError } from '../pipeline/errors.ts';
import { shellWord } from '../pipeline/names.ts';
import type { EventSchema } from '../schemas/schema.ts';
import { makeArchiveFolder } from './archive-folder.ts';
import { SCALES_FILE, schemaDir, sourceTag } from './archive-layout.ts';
import { listArchiveFiles } from './parquet-archive.ts';

/** Per source, the decimal(N) scales of each decimal field its files hold (minor units x 10^N). */
type Scales = Record<string, Record<string, number[]>>;

const scalesPath = (dir: string, schema: EventSchema) => join(schemaDir(dir, schema), SCALES_FILE);

function decimalScales(schema: EventSchema): Record<string, number> {
  return Object.fromEntries(Object.entries(schema.fields).filter(([, f]) => f.kind === 'decimal').map(([n, f]) => [n, f.scale ?? 0]));
}

async function readScales(dir: string, schema: EventSchema): Promise<Scales> {
  const text = await readFile(scalesPath(dir, schema), 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '{}' : Promise.reject(error)));
  try {
    return JSON.parse(text) as Scales;
  } catch {
    // A damaged record only loses the check (files written from now on are recorded again), never the data.
    return {};
  }
}

/**
 * Records the scales `source`'s files were written with. The archive keeps a decimal as integer minor
 * units without its scale: read under another decimal(N) the same files gave values 10^k off.
 * `replaced`: these files are all the source has now (a file re-archived); else they are added to its
 * earlier ones (a topic's next slice), whose scales stay recorded beside.
 */
export async function recordDecimalScales(dir: string, schema: EventSchema, source: string, replaced: boolean): Promise<void> {
  const scales = decimalScales(schema);
  if (Object.keys(scales).length === 0) return;
  const all = await readScales(dir, schema);
  const before = all[source] ?? {};
  const now = Object.fromEntries(Object.entries(scales).map(([f, n]) =>
    [f, replaced ? [n] : [...new Set([...(before[f] ?? []), n])].sort((a, b) => a - b)]));
  if (JSON.stringify(before) === JSON.stringify(now)) return;
  all[source] = now;
  await makeArchiveFolder(schemaDir(dir, schema));
  const path = scalesPath(dir, schema);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(all, null, 2)}\n`);
  await rename(temp, path);
}

/**
 * Refuses to read `files` (default: every archive file of the schema) under a decimal scale their sources were not
 * written with, for a decimal field `def` reads. Sources without files left (moved out, pruned) and
 * files archived before the record existed are not judged.
 */
export async function checkDecimalScales(def: PipelineDefinition, dir: string, files?: readonly string[]): Promise<void> {
  const read = new Set(fieldsRead(def));
  const wanted = Object.entries(decimalScales(def.schema)).filter(([f]) => read.has(f));
  if (wanted.length === 0) return;
  const all = await readScales(dir, def.schema);
  if (Object.keys(all).length === 0) return;
  const names = (files ?? (await listArchiveFiles(dir, def.schema))).map((f) => basename(f));
  const withFiles = Object.keys(all).filter((s) => names.some((n) => n.startsWith(`${sourceTag(s)}-`)));
  for (const [field, scale] of wanted) {
    const other = withFiles.filter((s) => (all[s]![field] ?? []).some((n) => n !== scale));
    if (other.length === 0) continue;
    const was = all[other[0]!]![field]!.find((n) => n !== scale)!;
    const factor = 10 ** Math.abs(scale - was);
    throw new DefinitionError(
      `archive ${schemaDir(dir, def.schema)} holds "${field}" as decimal(${was}) (source ${other[0]}${other.length > 1 ? ` and ${other.length - 1} more` : ''}), ` +
        `and schema ${def.schema.name} now says decimal(${scale}): pipeline ${def.name} would read its values ${factor} times too ${scale > was ? 'small' : 'large'}. ` +
        `Archive those sources again with these definitions (\`concord archive --schema ${shellWord(def.schema.name)} --input FILE --dir ${shellWord(dir)}\` ` +
        'replaces a source\'s files), or replay with the definitions they were archived under',
    );
  }
}
