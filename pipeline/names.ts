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
