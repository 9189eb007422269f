import { createHash } from 'node:crypto';

const PLAIN = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * A user's name (schema, pipeline) as a file or topic name: plain names stay as they are; any other
 * (spaces, quotes, `/`, non-ASCII, `..`) keeps its safe characters and gets a hash of the whole name,
 * so two different names never share an archive folder or a Kafka topic.
 */
export function safeName(name: string): string {
  if (PLAIN.test(name) && name !== '.' && name !== '..') return name;
  const readable = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_').slice(0, 100);
  return `${readable}-${createHash('sha256').update(name).digest('hex').slice(0, 10)}`;
}

/** A user's name as one shell word in a command we suggest: plain names as they are, others single-quoted. */
export function shellWord(name: string): string {
  return /^[A-Za-z0-9._\/:=@%+-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}

/**
 * What is wrong with a schema or pipeline name, if anything. Names go into log and progress lines,
 * report headings, metric labels and the commands we suggest: a control character (a line break, a
 * tab, NUL) or an invisible format character (a right-to-left override, a zero-width space) would split
 * or disguise them, and space around a name is invisible where it is printed.
 */
export function nameProblem(name: string): string | undefined {
  const hidden = /[\p{Cc}\p{Cf}]/u.exec(name);
  if (hidden) return `holds the character U+${hex4(hidden[0])} (a control or invisible character): names are printed in logs, reports, metric labels and commands; use visible characters`;
  if (name.trim() !== name) return 'starts or ends with a space: it would not show where the name is printed; remove it';
  return undefined;
}

const hex4 = (c: string) => c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');

/** A name JSON-quoted with every control and invisible character written `\uXXXX`, for messages about it. */
export function quotedName(name: string): string {
  return JSON.stringify(name).replace(/[\p{Cf}]/gu, (c) => `\\u${hex4(c).toLowerCase()}`);
}
