import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DefinitionsFileError, parseDefinitions } from './definitions-file.ts';
import { q } from './definitions-problems.ts';
import { ConfigError } from './errors.ts';
import { duplicateKeys } from './json-duplicate-keys.ts';
import type { Registry } from './registry.ts';

/** Far above any real definitions file (hundreds of pipelines are kilobytes), far below an events file. */
const MAX_DEFINITIONS_BYTES = 16 * 2 ** 20;

const MODULES = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** Why a definitions module did not load, said so the user can fix it: where a syntax error is, what to install. */
function moduleFailure(error: unknown, full: string, ext: string): string {
  const message = thrownText(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (ext.endsWith('ts') && (code === 'ERR_UNKNOWN_FILE_EXTENSION' || /Unknown file extension/.test(message))) {
    return `${message.split('\n')[0]} (this Node ${process.versions.node} cannot load TypeScript; use Node >= 22.18 or a .js/.json file)`;
  }
  if (/Cannot find (package|module) '(concord|[^']*[\\/]dist[\\/]index\.js)'/.test(message)) {
    // `defineDefinitions` only adds types; the import needs the package where the file lives (or a build here).
    const inCheckout = /[\\/]dist[\\/]index\.js'/.test(message);
    return `${message.split('\n')[0]}: ${inCheckout ? 'in a checkout, `npm run build` first so that \'concord\' resolves' : `install the package where ${full} lives (\`npm pack\` in Concord, then \`npm install <the .tgz>\`)`}, or drop the import: defineDefinitions only adds types`;
  }
  if (error instanceof SyntaxError || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX' || /Transform failed/.test(message)) return syntaxFailure(error, message, full);
  return message.split('\n')[0]!;
}

/** What a module threw, in words: `throw { code: 1 }` read as "[object Object]". */
function thrownText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null) {
    try {
      return `threw ${JSON.stringify(error)}`;
    } catch {
      // not JSON (a cycle, a BigInt): String() below
    }
  }
  return String(error);
}

/**
 * A syntax error with its place. tsx puts `file:line:col` in the message; Node's type stripping puts
 * `file:line`, the lines around and a caret in the stack; Node's JavaScript loader says no place at all,
 * so the running Node checks the file (`node --check` prints the same shape on stderr).
 */
function syntaxFailure(error: unknown, message: string, full: string): string {
  const reason = message.split('\n')[0]!;
  const located = message.split('\n').find((line) => line.startsWith(`${full}:`));
  if (located) {
    const place = /^.*:(\d+):(\d+): /.exec(located);
    return `syntax error at ${located.replace(/: ERROR: /, ': ')}${place ? excerpt(readText(full), Number(place[1]), Number(place[2]) + 1) : ''}`;
  }
  const fromStack = placeIn(error instanceof Error ? (error.stack ?? '') : '', full);
  if (fromStack) return `syntax error at ${fromStack.at}: ${reason}${fromStack.shown}`;
  const check = spawnSync(process.execPath, ['--check', full], { encoding: 'utf8', timeout: 10_000 });
  const checked = placeIn(check.stderr ?? '', full);
  if (!checked) return reason;
  const said = /^SyntaxError(?:\s*\[\w+\])?: (.*)$/m.exec(check.stderr)?.[1] ?? reason;
  return `syntax error at ${checked.at}: ${said}${checked.shown}`;
}

/** The file's text, or '' when it cannot be read (the place alone is said then). */
function readText(full: string): string {
  try {
    return readFileSync(full, 'utf8');
  } catch {
    return '';
  }
}

/** Line `line` (1-based) of `text` with a caret under column `column` (1-based), indented under the message. */
function excerpt(text: string, line: number, column: number): string {
  const shown = text.split(/\r?\n/)[line - 1];
  if (shown === undefined || shown.length > 500) return '';
  return `\n    ${shown}\n    ${' '.repeat(Math.max(0, Math.min(column - 1, shown.length)))}^`;
}

/** `file:line` of Node's syntax report in `text`, and the offending line with its caret under it. */
function placeIn(text: string, full: string): { at: string; shown: string } | undefined {
  const lines = text.split('\n');
  const head = lines.findIndex((line) => line.startsWith(`${full}:`) || line.startsWith(`${pathToFileURL(full).href}:`));
  if (head < 0) return undefined;
  const at = `${full}${/:\d+$/.exec(lines[head]!)?.[0] ?? ''}`;
  const caret = lines.findIndex((line, i) => i > head && /^\s*\^+\s*$/.test(line));
  return { at, shown: caret > head + 1 ? `\n    ${lines[caret - 1]}\n    ${lines[caret]}` : '' };
}

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
    // A promise (an async loader exported as is) would read as an object with no schemas.
    if (typeof (mod.default as { then?: unknown } | null)?.then === 'function') {
      throw new ConfigError(`definitions module ${path} exports a Promise; export the object itself (\`export default await ...\` waits for it)`);
    }
    content = mod.default;
  } else {
    let text: string;
    try {
      // An events file or a dump named by mistake was read whole (300 MB: 660 MB of memory) before a word.
      const { size } = await stat(full);
      if (size > MAX_DEFINITIONS_BYTES) {
        throw new ConfigError(`definitions file ${path} is ${(size / 2 ** 20).toFixed(0)} MiB, more than any definitions file holds (at most ${MAX_DEFINITIONS_BYTES / 2 ** 20} MiB): ` +
          'is it the events file? Name the JSON or .ts/.js definitions file');
      }
      text = await readFile(full, 'utf8');
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`cannot read definitions file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error)}`, { cause: error });
    }
    if (text.trim() === '') throw new ConfigError(`definitions file ${path} is empty; write {"schemas": {...}, "pipelines": {...}} (\`concord init\` writes a starter)`);
    // JSON.parse's message quoted the first bytes: a binary file's raw bytes on the terminal.
    if (/[\u0000\uFFFD]/.test(text.slice(0, 4096))) throw new ConfigError(`definitions file ${path} is not text (binary bytes: an archive's Parquet file, a database?); name the JSON or .ts/.js definitions file`);
    try {
      content = JSON.parse(text);
    } catch (error) {
      // A .yaml file holding JSON is read as JSON; YAML itself is not.
      if (['.yaml', '.yml'].includes(ext)) throw new ConfigError(`definitions file ${path}: YAML is not read; write the same object as JSON (a .json file) or as a .ts/.js module (\`concord init\` writes a starter)`, { cause: error });
      const message = error instanceof Error ? error.message : String(error);
      const place = /\(line (\d+) column (\d+)\)/.exec(message);
      throw new ConfigError(`definitions file ${path} is not valid JSON: ${message} (a module needs a .ts or .js extension)${place ? excerpt(text, Number(place[1]), Number(place[2])) : ''}`, { cause: error });
    }
    const repeated = duplicateKeys(text);
    if (repeated.length > 0) throw withOtherProblems(path, content, repeated.map((d) =>
      `${d.path}: ${q(d.key)} is written ${d.at.length === 2 ? 'twice' : `${d.at.length} times`} (at ${d.at.join(', ')}); JSON keeps only the last and drops the others: rename or remove all but one`));
  }
  return parseDefinitions(content, path);
}

/** The file's problems with `first` ahead: every problem at once, as ever. */
function withOtherProblems(path: string, content: unknown, first: readonly string[]): DefinitionsFileError {
  try {
    parseDefinitions(content, path);
  } catch (error) {
    if (error instanceof DefinitionsFileError) return new DefinitionsFileError(path, [...first, ...error.problems]);
    throw error;
  }
  return new DefinitionsFileError(path, first);
}
