/** How a JSON value is written in a dead letter's reason, and a number's plain text (schema.ts, timestamps.ts). */

/** A value as a reason names it: `null`, `an array`, `string "x"`, `object {...}`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  // JSON.parse reads 1e309 as Infinity, which JSON.stringify writes `null`: the reason said "got number null".
  if (typeof value === 'number' && !Number.isFinite(value)) return `a number beyond ${value < 0 ? '-' : ''}1.8e308 (no double holds it)`;
  return typeof value === 'string' ? `string ${shortened(value, '"')}` : `${typeof value} ${shortened(JSON.stringify(value), '')}`;
}

/**
 * The reason quotes a value, the dead letter keeps the line (raw, up to 4,096 characters): a 10 kB
 * string in a number's field made a 10 kB reason, printed whole as `first rejected:` on the terminal
 * and stored with every such dead letter. The start names the value; its length says the rest.
 */
const QUOTED_CHARS = 100;
function shortened(text: string, quote: string): string {
  if (text.length <= QUOTED_CHARS) return `${quote}${text}${quote}`;
  // Not between the two halves of a UTF-16 pair (an emoji): half of one is no text.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(QUOTED_CHARS - 1)) ? QUOTED_CHARS - 1 : QUOTED_CHARS;
  return `${quote}${text.slice(0, end)}${quote}... (${text.length} characters)`;
}

/**
 * A JSON number's shortest text without an exponent. `String` writes numbers below 1e-6 and from 1e21
 * in exponent form, which the decimal pattern refused: 0.0000001 in a decimal(9) field (7 places) was
 * a dead letter, "1e-7 is not a number with at most 9 decimal places".
 */
export function plainDecimalText(value: number): string {
  const text = String(value);
  const e = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!e) return text;
  const [, sign, lead, rest = '', exp] = e as unknown as string[];
  const digits = `${lead}${rest}`, point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  return `${sign}${digits.padEnd(point, '0')}${point < digits.length ? `.${digits.slice(point)}` : ''}`;
}
