/**
 * Text that carries an event's data (a dead letter's reason quotes the value it refused; JSON.parse's
 * message quotes the line) made safe to print on a terminal and in text logs: control characters (ESC
 * opens terminal escape sequences: a window title, colours, hyperlinks, on some terminals the clipboard;
 * a line break splits the line) and invisible format characters (a right-to-left override turns the rest
 * of the line around) are written as `\uXXXX`. Visible text, quotes and backslashes are left as they are.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
