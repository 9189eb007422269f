import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard is plain browser JavaScript without types
import { fmt } from '../../serve/dashboard/dom.js';

// The dashboard showed a null key and the string "null" both as `null`, an empty key as nothing, and a
// key holding a CR as a space: different groups read as the same one (docs/definitions.md: a null key
// is a group of its own, apart from the string "null").

const key = (k: Record<string, unknown>) => (fmt as { key: (k: Record<string, unknown>) => string }).key(k);

describe('dashboard key text', () => {
  it('tells null, "null", "", a CR and the separator apart; a plain value shows bare', () => {
    const shown = [null, 'null', '', '∅', 'cr\rx', 'a · b', ' pad', 'plain', '=1+2', '<b>x</b>', 42].map((v) => key({ k: v }));
    expect(new Set(shown).size).toBe(shown.length);
    expect(shown).toEqual(['∅', '"null"', '""', '"∅"', '"cr\\rx"', '"a · b"', '" pad"', 'plain', '=1+2', '<b>x</b>', '42']);
    expect(key({ a: null, b: 'null' })).toBe('∅ · "null"');
    expect(key({})).toBe('(all)');
  });

  // A right-to-left override or a zero-width space showed as nothing: `\u202etxt.exe` read as `exe.txt`,
  // and `admin\u200b` as `admin`, another group than the one it looks like (the Markdown reports quote them).
  it('quotes a value holding an invisible or right-to-left character, each written \\uXXXX; also in value lists', () => {
    const shown = ['\u202etxt.exe', 'admin\u200b', 'admin', 'c1\u009bx', 'ls\u2028x'].map((v) => key({ k: v }));
    expect(shown).toEqual(['"\\u202etxt.exe"', '"admin\\u200b"', 'admin', '"c1\\u009bx"', '"ls\\u2028x"']);
    for (const s of shown) expect(s).not.toMatch(/[\p{Cc}\p{Cf}\u2028\u2029]/u);
    const f = fmt as { list: (v: unknown[]) => string; values: (v: Record<string, unknown>) => string };
    expect(f.list(['a', '\u202eb', null])).toBe('a "\\u202eb" ∅');
    expect(f.values({ urls: ['/x', '\u202e/y'] })).toBe('urls /x "\\u202e/y"');
  });
});
