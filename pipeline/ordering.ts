/**
 * Compares strings by their UTF-8 bytes (= code point order), which is how DuckDB orders VARCHAR.
 * JavaScript's `<` compares UTF-16 code units, which differs once surrogate pairs meet U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Move surrogates (code points >= U+10000) above the rest of the BMP.
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** Orders field values of one type as DuckDB does: text by UTF-8 bytes, numbers numerically, false < true. */
export function compareValues(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === 'string' && typeof b === 'string') return compareUtf8(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}
