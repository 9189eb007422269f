/**
 * The identity of a (window) pane's key: its key fields' values in definition order, null marked apart
 * from the string "null". Unkeyed pipelines have one pane per window, id ''. Works on events and on
 * the key values of results alike, so operators and the merge stage agree on it.
 */
export function paneId(keyFields: readonly string[], values: Readonly<Record<string, unknown>>): string {
  if (keyFields.length === 0) return '';
  if (keyFields.length === 1) return String(values[keyFields[0]!] ?? '\u0001null');
  return keyFields.map((k) => String(values[k] ?? '\u0001null')).join('\u0000');
}
