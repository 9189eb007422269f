import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DefinitionsFileError } from '../../pipeline/definitions-file.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { loadDefinitionsFile } from '../../pipeline/load-definitions.ts';

describe('a definitions module that does not export the object', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-load-defs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('a Promise is refused with what to write (it read as an object with no schemas)', async () => {
    const path = file('promise.mjs', "export default Promise.resolve({ schemas: {}, pipelines: {} });\n");
    await expect(loadDefinitionsFile(path)).rejects.toThrow(ConfigError);
    await expect(loadDefinitionsFile(path)).rejects.toThrow(/exports a Promise; export the object itself \(`export default await \.\.\.`/);
  });

  it('a thrown value that is no Error is shown as it is, not "[object Object]"', async () => {
    const path = file('throws.mjs', "throw { reason: 'no config' };\n");
    await expect(loadDefinitionsFile(path)).rejects.toThrow(ConfigError);
    await expect(loadDefinitionsFile(path)).rejects.toThrow(`cannot load definitions module ${path}: threw {"reason":"no config"}`);
  });
});

describe('a JSON definitions file with a key written twice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-load-defs-dup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const schema = '"rides": {"time": "t", "id": "id", "fields": {"id": "string", "t": "timestamp", "city": "string"}}';
  const pipeline = (window: string) => `{"input": "rides", "key": "city", "window": {"tumbling": "${window}"}, "aggregates": {"n": "count"}}`;

  it('is refused naming the key, its object and both places, with the file\'s other problems (JSON.parse kept the last one silently)', async () => {
    // A pipeline block copied to make a second one, its name not changed yet: the first one vanished.
    const path = join(dir, 'copied.json');
    writeFileSync(path, `{\n "schemas": {${schema}},\n "pipelines": {\n  "per_city": ${pipeline('15m')},\n  "per_city": ${pipeline('1h')},\n  "other": {"input": "ridez"}\n }\n}\n`);
    const error = await loadDefinitionsFile(path).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DefinitionsFileError);
    const { problems } = error as DefinitionsFileError;
    expect(problems[0]).toBe('pipelines: "per_city" is written twice (at 4:3, 5:3); JSON keeps only the last and drops the others: rename or remove all but one');
    expect(problems.slice(1).some((p) => p.startsWith('pipelines.other.input: "ridez" is not a schema'))).toBe(true);
  });

  it('a field written twice in a schema too', async () => {
    const path = join(dir, 'field.json');
    writeFileSync(path, `{"schemas": {"rides": {"time": "t", "id": "id", "fields": {"id": "string", "t": "timestamp", "city": "string", "city": "int"}}}, "pipelines": {"p": ${pipeline('1m')}}}`);
    await expect(loadDefinitionsFile(path)).rejects.toThrow(/schemas\.rides\.fields: "city" is written twice \(at 1:\d+, 1:\d+\)/);
  });
});

describe('a definitions file that is no JSON text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-load-defs-text-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a binary file (a Parquet file named by mistake) is said to be no text, without its raw bytes in the message', async () => {
    const path = join(dir, 'part-0.parquet');
    writeFileSync(path, Buffer.from([0x50, 0x41, 0x52, 0x31, 0x15, 0x04, 0x00, 0xff, 0xfe, 0x2b]));
    const error = await loadDefinitionsFile(path).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`definitions file ${path} is not text (binary bytes: an archive's Parquet file, a database?); name the JSON or .ts/.js definitions file`);
  });

  it('a file far larger than any definitions (an events file named by mistake) is refused before it is read', async () => {
    const path = join(dir, 'events.json');
    writeFileSync(path, '');
    truncateSync(path, 20 * 2 ** 20); // sparse: 20 MiB of NULs on no disk
    await expect(loadDefinitionsFile(path)).rejects.toThrow(`definitions file ${path} is 20 MiB, more than any definitions file holds (at most 16 MiB): is it the events file?`);
  });

  it('a YAML file is said to be YAML, not read (it was "not valid JSON" at its first letter)', async () => {
    const path = join(dir, 'defs.yaml');
    writeFileSync(path, 'schemas:\n  rides:\n    time: pickup_at\n');
    await expect(loadDefinitionsFile(path)).rejects.toThrow(`definitions file ${path}: YAML is not read; write the same object as JSON (a .json file) or as a .ts/.js module`);
  });
});
