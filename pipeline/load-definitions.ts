import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDefinitions } from './definitions-file.ts';
import { ConfigError } from './errors.ts';
import type { Registry } from './registry.ts';

const MODULES = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** Why a definitions module did not load, said so the user can fix it: where a syntax error is, what to install. */
function moduleFailure(error: unknown, full: string, ext: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (ext.endsWith('ts') && (code === 'ERR_UNKNOWN_FILE_EXTENSION' || /Unknown file extension/.test(message))) {
    return `${message.split('\n')[0]} (this Node ${process.versions.node} cannot load TypeScript; use Node >= 22.18 or a .js/.json file)`;
  }
  if (/Cannot find (package|module) '(concord|[^']*[\\/]dist[\\/]index\.js)'/.test(message)) {
    // `defineDefinitions` only adds types; the import needs the package where the file lives (or a build here).
    const inCheckout = /[\\/]dist[\\/]index\.js'/.test(message);
    return `${message.split('\n')[0]}: ${inCheckout ? 'in a checkout, `npm run build` first so that \'concord\' resolves' : `install the package where ${full} lives (\`npm pack\` in Concord, then \`npm install <the .tgz>\`)`}, or drop the import: defineDefinitions only adds types`;
  }
  if (error instanceof SyntaxError || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX' || /Transform failed/.test(message)) return syntaxFailure(message, full);
  return message.split('\n')[0]!;
}

/**
 * A syntax error with its place: Node's own module errors do not carry the line, so the running Node
 * checks the file (`node --check` prints `file:line`, the line and a caret under the mistake).
 */
function syntaxFailure(message: string, full: string): string {
  const located = message.split('\n').find((line) => line.startsWith(`${full}:`)); // tsx (esbuild): file:line:col: ERROR: ...
  if (located) return `syntax error at ${located.replace(/: ERROR: /, ': ')}`;
  const check = spawnSync(process.execPath, ['--check', full], { encoding: 'utf8', timeout: 10_000 });
  const lines = (check.stderr ?? '').split('\n');
  const at = lines.findIndex((line) => line.startsWith(`${full}:`));
  if (at < 0) return message.split('\n')[0]!;
  const reason = lines.find((line) => /^SyntaxError/.test(line))?.replace(/^SyntaxError(\s*\[\w+\])?: /, '') ?? message.split('\n')[0];
  return `syntax error at ${lines[at]}: ${reason}\n    ${lines[at + 1] ?? ''}\n    ${lines[at + 2] ?? ''}`;
}

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
      throw new ConfigError(`cannot load definitions module ${path}: ${moduleFailure(error, full, ext)}`, { cause: error });
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
    if (text.trim() === '') throw new ConfigError(`definitions file ${path} is empty; write {"schemas": {...}, "pipelines": {...}} (\`concord init\` writes a starter)`);
    try {
      content = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`definitions file ${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)} (a module needs a .ts or .js extension)`, { cause: error });
    }
  }
  return parseDefinitions(content, path);
}
