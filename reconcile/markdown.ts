import { printable } from '../pipeline/printable.ts';

/**
 * Markdown text, for every table Concord prints (reconcile's report .md, `concord report --format md`,
 * the chaos matrix) and the headings naming a pipeline: a value's text never breaks its row and renders
 * as the text it is. A `|` is escaped as `\|` and a line break becomes `<br>`, so a row keeps its columns;
 * `` ` ``, `*`, `~`, `[`, `]` and a `_` that is not inside a word are backslash-escaped (no code span,
 * emphasis or link eats them); `&` and `<` are written as `&amp;` and `&lt;` (a value is never read as
 * HTML, and a value holding the text `<br>` is told apart from a line break); a backslash before
 * punctuation or a line break is doubled (it stays a backslash); other control and invisible characters
 * (ESC, a right-to-left override) are written `\uXXXX`. Null and undefined are an empty cell.
 * The JSON and CSV outputs show values as they are; only Markdown needs this.
 */
export function mdCell(value: unknown): string {
  const text = typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
  return text.replace(/\\(?=[!-/:-@[-`{-~\r\n])|[|`*~[\]]|_|&|<|\r\n|\r|\n|[\p{Cc}\p{Cf}\u2028\u2029]/gu, (m: string, at: number) => {
    if (m === '&') return '&amp;';
    if (m === '<') return '&lt;';
    if (m === '\r\n' || m === '\r' || m === '\n') return '<br>';
    // Any other control or invisible character (an event id's ESC reached the terminal reconcile prints to).
    if (/^[\p{Cc}\p{Cf}\u2028\u2029]$/u.test(m)) return printable(m);
    if (m === '_') return /[\p{L}\p{N}]/u.test(text[at - 1] ?? '') && /[\p{L}\p{N}]/u.test(text[at + 1] ?? '') ? '_' : '\\_';
    return `\\${m}`;
  });
}

/**
 * Text as one Markdown code span (a command to copy), whatever it holds: fenced by more backticks than
 * its longest run of them, padded with a space when it starts or ends with one (CommonMark strips that
 * space again). A name holding a backtick closed a one-backtick span early; what followed was Markdown
 * and HTML again.
 */
export function mdCode(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A table row: each cell escaped (`mdCell`). `pad`: widths to pad the escaped cells to (aligned plain text). */
export function mdRow(cells: readonly unknown[], pad?: readonly number[]): string {
  return `| ${cells.map((c, i) => mdCell(c).padEnd(pad?.[i] ?? 0)).join(' | ')} |`;
}

/** A whole table: header, alignment row (`---`, `---:`; default `---`), rows; every cell escaped. */
export function mdTable(header: readonly string[], rows: readonly (readonly unknown[])[], align?: readonly string[]): string {
  return [mdRow(header), `|${header.map((_, i) => align?.[i] ?? '---').join('|')}|`, ...rows.map((r) => mdRow(r))].join('\n');
}

/**
 * A key value (or a value of a difference's cell) in a Markdown table, the same in every table, told
 * apart from every other value: null is `∅`; a string is shown bare unless it could be read as
 * something else (empty, `null`, `∅`, a number or boolean, with spaces, quotes, line breaks or invisible
 * characters: `INVISIBLE`, written `\uXXXX`), then JSON-quoted (`"null"`, `"42"`, `"ünï cødé"`). Numbers and booleans as they are.
 */
export function mdKeyValue(value: unknown): string {
  if (value === null || value === undefined) return '∅';
  if (typeof value !== 'string') return typeof value === 'object' ? JSON.stringify(value) : String(value);
  const ambiguous = value === '' || value === 'null' || value === '∅' || value === 'true' || value === 'false' ||
    /[\s"\\]/.test(value) || INVISIBLE.test(value) || value === 'NaN' || !Number.isNaN(Number(value));
  return ambiguous ? JSON.stringify(value).replace(INVISIBLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : value;
}

/**
 * Characters a reader cannot see or that change how the text around them reads: control characters (NUL
 * makes `grep` and `git diff` take the file for binary) and the bidirectional controls (a right-to-left
 * override turns the rest of the line around). A key value holding one is JSON-quoted with them as `\uXXXX`.
 */
const INVISIBLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu');

/** Several key values in one cell, space-separated (each `mdKeyValue`, so a space inside one is quoted). */
export function mdKeyValues(values: readonly unknown[]): string {
  return values.map(mdKeyValue).join(' ');
}
