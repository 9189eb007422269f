import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { printable } from '../../pipeline/printable.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { flatObjectReader } from '../../schemas/flat-json.ts';
import { validateEvent, type EventSchema, type FieldDef } from '../../schemas/schema.ts';

// The flat-object reader must agree with JSON.parse wherever it answers (the schema's fields, own
// properties only, the last duplicate winning), hand over (undefined) whatever it cannot read exactly,
// and answer the plain lines producers write.
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) * 25;

/** Mostly the usual thing, sometimes one of the odd ones. */
const mostly = <T>(usual: T, ...odd: T[]) => fc.oneof({ arbitrary: fc.constant(usual), weight: 15 }, { arbitrary: fc.constantFrom(...odd), weight: 1 });
const FIELDS = ['id', 'ts', 'url', 'n', 'ok', 'x y', 'é'];
const key = fc.oneof(
  { arbitrary: fc.constantFrom(...FIELDS), weight: 8 },
  { arbitrary: fc.constantFrom('constructor', '__proto__', 'toString', 'i', 'idd', 'ts"', 'u\\rl', 'n\u0001', ''), weight: 1 },
  { arbitrary: fc.string({ maxLength: 6, unit: 'binary' }), weight: 1 },
);
const numberText = fc.tuple(
  mostly('', '-', '+', '--'),
  fc.oneof(
    fc.constantFrom('0', '00', '01', '7', '1795392006903', '123456789012345', '1234567890123456', '9007199254740993', ''),
    fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String), // past 2^53 too: rounded as JSON.parse rounds
  ),
  mostly('', '.', '.5', '.000001', '.1e', '..1'),
  mostly('', 'e', 'E+5', 'e-400', 'e400', 'e+', 'e-7', 'E0'),
).map((p) => p.join(''));
const stringText = fc.oneof(
  { arbitrary: fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)), weight: 6 }, // escaped where needed
  { arbitrary: fc.string({ maxLength: 12, unit: 'binary' }).map((s) => `"${s}"`), weight: 1 }, // raw: quotes, backslashes and controls unescaped
  { arbitrary: fc.constantFrom('"\\u0041"', '"a\\"b"', '"\\\\"', '"\\n"', '"\u2028"', '"\ud800"', '"'), weight: 1 },
);
const valueText = fc.oneof(
  { arbitrary: stringText, weight: 4 },
  { arbitrary: numberText, weight: 4 },
  { arbitrary: fc.constantFrom('true', 'false', 'null', 'tru', 'nul', 'True', 'NaN', 'Infinity'), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), weight: 1 },
);
const space = mostly('', ' ', '  ', '\t', '\n', '\r\n');
const member = fc.tuple(space, key, space, mostly(':', '=', ''), space, valueText, space)
  .map(([a, k, b, colon, c, v, d]) => `${a}${JSON.stringify(k)}${b}${colon}${c}${v}${d}`);
const objectText = fc.tuple(space, fc.array(member, { maxLength: 8 }), mostly(',', ', ', ';', ',,'), space, mostly('}', '', '}}', '},'))
  .map(([a, members, sep, b, close]) => `${a}{${members.join(sep)}${b}${close}`);
/** Damage: a character cut out or put in somewhere. */
const damaged = fc.tuple(objectText, fc.nat(), fc.constantFrom('', '"', '{', '}', ',', ':', '\\', '\u0000', ' ', '1'))
  .map(([text, at, put]) => { const i = text.length === 0 ? 0 : at % text.length; return text.slice(0, i) + put + text.slice(i + (put === '' ? 1 : 0)); });
const line = fc.oneof({ arbitrary: objectText, weight: 6 }, { arbitrary: damaged, weight: 3 }, { arbitrary: fc.string({ maxLength: 40 }), weight: 1 });

function parsed(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

describe('flatObjectReader', () => {
  const read = flatObjectReader(FIELDS)!;

  it('agrees with JSON.parse wherever it answers', () => {
    let answered = 0;
    fc.assert(fc.property(line, (text) => {
      const values = read(text);
      if (values === undefined) return;
      answered++;
      const reference = parsed(text);
      expect(reference.ok).toBe(true);
      const object = (reference as { value: unknown }).value;
      expect(typeof object === 'object' && object !== null && !Array.isArray(object)).toBe(true);
      FIELDS.forEach((f, i) => {
        const expected = Object.hasOwn(object as object, f) ? (object as Record<string, unknown>)[f] : undefined;
        expect(Object.is(values[i], expected), `${f} in ${text}: ${String(values[i])} vs ${String(expected)}`).toBe(true);
      });
    }), { numRuns: RUNS });
    expect(answered).toBeGreaterThan(RUNS / 20);
  });

  it('answers every flat object whose strings need no escapes, with its values', () => {
    const plain = fc.string({ maxLength: 20 }).filter((s) => JSON.stringify(s) === `"${s}"`);
    const value = fc.oneof(plain, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
    fc.assert(fc.property(fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), plain), value, { maxKeys: 9 }), (object) => {
      const text = JSON.stringify(object);
      const values = read(text);
      expect(values, text).toBeDefined();
      const roundTrip = JSON.parse(text) as Record<string, unknown>;
      FIELDS.forEach((f, i) => expect(Object.is(values![i], Object.hasOwn(roundTrip, f) ? roundTrip[f] : undefined), `${f} in ${text}`).toBe(true));
    }), { numRuns: RUNS / 5 });
  });

  it('is not offered for field names that raw text cannot match or that every object answers for', () => {
    for (const name of ['a"b', 'a\\b', 'a\nb', 'constructor', '__proto__', 'hasOwnProperty']) expect(flatObjectReader(['id', name])).toBeUndefined();
    expect(flatObjectReader(['id', 'x y', 'é'])).toBeDefined();
  });
});

describe('decodeLine with the flat reader', () => {
  const field = (kind: FieldDef['kind'], required: boolean): FieldDef => ({ kind, required, doc: '' });
  const schemas: EventSchema[] = [
    { name: 'plain', timeField: 'ts', idField: 'id', fields: { id: field('string', true), ts: field('timestamp', true), url: field('string', false), n: field('int', false), ok: field('bool', false), 'x y': field('double', false), 'é': field('decimal', false) } },
    // a field every object answers for: only JSON.parse reads these lines
    { name: 'odd', timeField: 'ts', idField: 'id', fields: { id: field('string', true), ts: field('timestamp', true), constructor: field('string', false) } },
  ];

  it('gives the event or the dead letter JSON.parse and the validator give', () => {
    fc.assert(fc.property(fc.constantFrom(...schemas), line, (schema, text) => {
      const got = decodeLine(schema, text, { source: 't', offset: 0 });
      const reference = parsed(text);
      if (!reference.ok) {
        expect(got.ok).toBe(false);
        expect(!got.ok && got.deadLetter.reason.startsWith('malformed JSON')).toBe(true);
        return;
      }
      let expected: unknown;
      try {
        expected = { ok: true, event: validateEvent(schema, reference.value) };
      } catch (error) {
        // The reason quotes the line's data, written printable (control and invisible characters as \uXXXX).
        expected = { ok: false, reason: printable((error as Error).message) };
      }
      expect(got.ok ? { ok: true, event: got.event } : { ok: false, reason: got.deadLetter.reason }).toEqual(expected);
    }), { numRuns: RUNS });
  });
});
