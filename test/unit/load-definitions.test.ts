import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
