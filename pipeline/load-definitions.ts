import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDefinitions } from './definitions-file.ts';
import { ConfigError } from './errors.ts';
import type { Registry } from './registry.ts';

const MODULES = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/**
 * Loads a definitions file: JSON, or a module whose default export is the same object (loaded by the
 * running Node itself; `.ts` needs Node >= 22.18 / 23.6, which strips types without a build step).
 */
export async function loadDefinitionsFile(path: string): Promise<Registry> {
  const full = resolve(path);
  const ext = extname(full).toLowerCase();
  let content: unknown;
  if (MODULES.includes(ext)) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(full).href)) as { default?: unknown };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const hint = ext.endsWith('ts') && /Unknown file extension|ERR_UNKNOWN_FILE_EXTENSION/.test(message)
        ? ` (this Node ${process.versions.node} cannot load TypeScript; use Node >= 22.18 or a .js/.json file)` : '';
      throw new ConfigError(`cannot load definitions module ${path}: ${message.split('\n')[0]}${hint}`, { cause: error });
    }
    if (mod.default === undefined) throw new ConfigError(`definitions module ${path} has no default export; write \`export default { schemas: {...}, pipelines: {...} }\``);
    content = mod.default;
  } else {
    let text: string;
    try {
      text = await readFile(full, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read definitions file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error)}`, { cause: error });
    }
    try {
      content = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`definitions file ${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)} (a module needs a .ts or .js extension)`, { cause: error });
    }
  }
  return parseDefinitions(content, path);
}
