/**
 * A reader for the common shape of an input line: one flat JSON object whose strings carry no escapes
 * (`{"event_id":"c-1","ts":1795392006903,"url":"/"}`). It takes the values of a schema's fields straight
 * from the text, without building the parsed object's keys and shape: V8's `JSON.parse` spends ~200 ns
 * per key/value pair on those (measured: 1.6-1.7 us a click line against 1.1 us here).
 *
 * Its contract is exact or nothing: when it returns values, `JSON.parse(line)` succeeds, gives an object,
 * and its own property `fields[i]` equals `values[i]` (undefined when absent; the last of duplicate keys
 * wins, as in `JSON.parse`). Anything else — an escape or a control character anywhere, a nested value
 * or array, whitespace other than spaces, malformed text — returns undefined, and the caller parses the
 * line with `JSON.parse` (which then names the fault). test/property/flat-json.test.ts checks the
 * contract against `JSON.parse` over hostile lines.
 */
export type FlatObjectReader = (line: string) => unknown[] | undefined;

/** A backslash (an escape) or a control character (never legal raw in JSON text but as whitespace). */
const ESCAPE_OR_CONTROL = /[\\\x00-\x1f]/;

/**
 * The reader for `fields`, or undefined when a field name cannot be matched as raw text (a quote, a
 * backslash or a control character in it) or is also a name every object has (`constructor`,
 * `__proto__`: a parsed object without the key still answers for it, so only `JSON.parse` agrees).
 */
export function flatObjectReader(fields: readonly string[]): FlatObjectReader | undefined {
  if (fields.some((f) => ESCAPE_OR_CONTROL.test(f) || f.includes('"') || f in Object.prototype)) return undefined;
  const names = [...fields];
  const count = names.length;
  const index = new Map(names.map((n, i) => [n, i]));
  return (line) => {
    if (ESCAPE_OR_CONTROL.test(line)) return undefined;
    const end = line.length;
    const values: unknown[] = new Array(count);
    let i = skipSpaces(line, 0);
    if (line.charCodeAt(i) !== 123 /* { */) return undefined;
    i = skipSpaces(line, i + 1);
    // Fields usually come in schema order: try the one after the last matched first.
    let next = 0;
    if (line.charCodeAt(i) === 125 /* } */) {
      i++;
    } else {
      for (;;) {
        if (line.charCodeAt(i) !== 34 /* " */) return undefined;
        const keyStart = i + 1;
        let field = -1;
        const guess = names[next];
        if (guess !== undefined && line.startsWith(guess, keyStart) && line.charCodeAt(keyStart + guess.length) === 34) {
          field = next;
          i = keyStart + guess.length + 1;
        } else {
          const keyEnd = line.indexOf('"', keyStart);
          if (keyEnd < 0) return undefined;
          field = index.get(line.slice(keyStart, keyEnd)) ?? -1;
          i = keyEnd + 1;
        }
        i = skipSpaces(line, i);
        if (line.charCodeAt(i) !== 58 /* : */) return undefined;
        i = skipSpaces(line, i + 1);
        const c = line.charCodeAt(i);
        let value: unknown;
        if (c === 34) {
          const close = line.indexOf('"', i + 1);
          if (close < 0) return undefined;
          if (field >= 0) value = line.slice(i + 1, close);
          i = close + 1;
        } else if ((c >= 48 && c <= 57) || c === 45 /* - */) {
          const after = numberEnd(line, i);
          if (after < 0) return undefined;
          if (field >= 0) value = numberValue(line, i, after);
          i = after;
        } else if (c === 116 && line.startsWith('true', i)) {
          value = true;
          i += 4;
        } else if (c === 102 && line.startsWith('false', i)) {
          value = false;
          i += 5;
        } else if (c === 110 && line.startsWith('null', i)) {
          value = null;
          i += 4;
        } else {
          return undefined; // an object, an array or not JSON
        }
        if (field >= 0) {
          values[field] = value;
          next = field + 1;
        }
        i = skipSpaces(line, i);
        const sep = line.charCodeAt(i);
        if (sep === 44 /* , */) {
          i = skipSpaces(line, i + 1);
          continue;
        }
        if (sep !== 125) return undefined;
        i++;
        break;
      }
    }
    return skipSpaces(line, i) === end ? values : undefined;
  };
}

function skipSpaces(line: string, i: number): number {
  while (line.charCodeAt(i) === 32) i++;
  return i;
}

/** The index after a JSON number starting at `start` (RFC 8259 grammar), or -1 when there is none. */
function numberEnd(line: string, start: number): number {
  let j = start;
  if (line.charCodeAt(j) === 45) j++;
  let c = line.charCodeAt(j);
  if (c === 48) {
    c = line.charCodeAt(++j);
  } else if (c >= 49 && c <= 57) {
    do c = line.charCodeAt(++j); while (c >= 48 && c <= 57);
  } else {
    return -1;
  }
  if (c === 46 /* . */) {
    const digits = ++j;
    while ((c = line.charCodeAt(j)) >= 48 && c <= 57) j++;
    if (j === digits) return -1;
  }
  if (c === 101 || c === 69 /* e E */) {
    c = line.charCodeAt(++j);
    if (c === 43 || c === 45) j++;
    const digits = j;
    while ((c = line.charCodeAt(j)) >= 48 && c <= 57) j++;
    if (j === digits) return -1;
  }
  return j;
}

/** The number's value: plain integers of up to 15 digits are summed exactly, the rest as JSON.parse reads them. */
function numberValue(line: string, start: number, end: number): number {
  if (end - start > 15) return Number(line.slice(start, end));
  let n = 0;
  for (let j = start; j < end; j++) {
    const c = line.charCodeAt(j);
    if (c < 48 || c > 57) return Number(line.slice(start, end)); // a sign, a fraction or an exponent
    n = n * 10 + (c - 48);
  }
  return n;
}

/**
 * A string that holds only its own characters. The reader's strings are slices of their line, and V8
 * keeps a slice's whole line alive (a 40-character key of a 2 KB line held 2 KB; 20k of them 42.6 MB
 * against 1.8 MB detached). Values that outlive their batch — state keys, distinct sets, a rule's kept
 * events — go through this; values used and dropped within the batch need not (copying every string
 * would cost most of what the reader saves). Shorter strings are never slices.
 */
export function detached<T>(value: T): T {
  return typeof value === 'string' && value.length >= 13 ? ((' ' + value).slice(1) as T) : value;
}

/** `detached` for every value of a record (a result's key values). */
export function detachedValues<R extends Record<string, unknown>>(values: R): R {
  for (const k of Object.keys(values)) (values as Record<string, unknown>)[k] = detached(values[k]);
  return values;
}
