import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../pipeline/errors.ts';
import type { EventSchema } from '../schemas/schema.ts';
import { schemaDir, SOURCES_FILE } from './archive-layout.ts';

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
  const real = await realpath(input).catch(() => input);
  await claim(dir, schema, source, real, (owner) =>
    `${dir} already holds source ${source} archived from ${owner}; ${real} has the same file name and would replace it ` +
    `(a file's events are named by its file name): give the file a name of its own (e.g. with its date) or archive it into another directory`);
}

/**
 * Claims a Kafka topic's records in an archive for the topic as it is now (its topic id). A topic
 * deleted and made again (e.g. after `npm run infra:down -- --clean`) starts its offsets at 0 again:
 * the archive's commit markers would skip its records as "already archived" and keep the old topic's
 * events under their offsets. Refused instead. An archive written before this record existed claims
 * the topic as it is now.
 */
export async function claimKafkaTopic(dir: string, schema: EventSchema, topic: string, topicId: string): Promise<void> {
  await claim(dir, schema, `kafka:${topic}`, `topic id ${topicId}`, (owner) =>
    `${dir} archives topic ${topic} as it was before it was deleted and made again (${owner} then, topic id ${topicId} now): ` +
    'its offsets start at 0 again, and the archive\'s commit markers would skip its records as already archived. ' +
    `Archive the new topic into another --dir, or move ${schemaDir(dir, schema)} away first`);
}

async function claim(dir: string, schema: EventSchema, source: string, owner: string, conflict: (owner: string) => string): Promise<void> {
  const path = join(schemaDir(dir, schema), SOURCES_FILE);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '{}' : Promise.reject(error)));
  let claims: Record<string, string>;
  try {
    claims = JSON.parse(text) as Record<string, string>;
  } catch (error) {
    throw new ConfigError(`${path} is not the JSON this archive keeps (which input each source came from): remove it to start the record again`, { cause: error });
  }
  const claimed = claims[source];
  if (claimed === owner) return;
  if (claimed !== undefined) throw new ConfigError(conflict(claimed));
  claims[source] = owner;
  await mkdir(schemaDir(dir, schema), { recursive: true });
  // Per process: two archivers of one topic (a group's members) may claim it at once.
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(claims, null, 2)}\n`);
  await rename(temp, path);
}
