import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { EventSchema } from '../schemas/schema.ts';
import { schemaDir } from './archive-layout.ts';

/** Which input file each file source of a schema's archive was written from (beside `_rejected/`). */
const SOURCES_FILE = '_sources.json';

/**
 * Claims a file source's name in an archive for one input file. A file's events carry its base name
 * (`file:clicks.jsonl`), and re-archiving a source replaces its earlier files (the input grew): a second
 * file of the same name from another folder (`d21/clicks.jsonl` after `d23/clicks.jsonl`) would silently
 * replace the first one's days, and their offsets would read as one file's. Refused instead, naming both.
 * An archive written before this record existed claims the name for the first file archived now.
 */
export async function claimFileSource(dir: string, schema: EventSchema, source: string, input: string): Promise<void> {
  // A pipe or stdin has no identity across runs: its reruns replace as before.
  if (!(await stat(input).catch(() => undefined))?.isFile()) return;
  const path = join(schemaDir(dir, schema), SOURCES_FILE);
  const real = await realpath(input).catch(() => input);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '{}' : Promise.reject(error)));
  let claims: Record<string, string>;
  try {
    claims = JSON.parse(text) as Record<string, string>;
  } catch (error) {
    throw new ConfigError(`${path} is not the JSON this archive keeps (which input each file source came from): remove it to start the record again`, { cause: error });
  }
  const owner = claims[source];
  if (owner === real) return;
  if (owner !== undefined) {
    throw new ConfigError(
      `${dir} already holds source ${source} archived from ${owner}; ${real} has the same file name and would replace it ` +
      `(a file's events are named by its file name): give the file a name of its own (e.g. with its date) or archive it into another directory`,
    );
  }
  claims[source] = real;
  await mkdir(schemaDir(dir, schema), { recursive: true });
  await writeFile(`${path}.tmp`, `${JSON.stringify(claims, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
