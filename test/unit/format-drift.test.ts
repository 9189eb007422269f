import { describe, expect, it } from 'vitest';
import { definitionVersion } from '../../pipeline/definition.ts';
import { DefinitionsFileError, parseDefinitions } from '../../pipeline/definitions-file.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { recordKey } from '../../stream/kafka/topics.ts';
import { misKeyed } from '../../stream/worker-admission.ts';

// A producer team changes its event format without a word: the time in seconds instead of
// milliseconds, `userId` renamed `user_id`. Each such event is a dead letter whose reason says what
// changed and which key of the definitions takes it; `epoch_unit` and `aliases` then take it.
const clicks = (extra: Record<string, unknown> = {}) => ({
  schemas: { clicks: { time: 'ts', id: 'event_id', key: 'userId', fields: { event_id: 'string', ts: 'timestamp', userId: 'string', url: 'string', at: 'timestamp?' }, ...extra } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count', users: ['count_distinct', 'userId'] } } },
});
const pos = { source: 'file:x.jsonl', offset: 3 };
const MS = Date.UTC(2026, 11, 1, 8, 0, 40);
const line = (o: Record<string, unknown>): string => JSON.stringify({ event_id: 'e1', ts: MS, userId: 'u1', url: '/a', ...o });
const decode = (defs: ReturnType<typeof clicks>, text: string) => decodeLine(parseDefinitions(defs, 'd.json').schema('clicks'), text, pos);

describe('format drift: epoch seconds', () => {
  it('a number of seconds in a field of milliseconds is a dead letter naming the unit (it was filed into January 1970)', () => {
    const out = decode(clicks(), line({ ts: MS / 1000 }));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.deadLetter.field).toBe('ts');
    expect(out.deadLetter.reason).toBe(
      'ts: 1796112040 looks like epoch seconds (2026-12-01T08:00:40.000Z), not milliseconds (1970-01-21T18:55:12.040Z); send milliseconds, or set the schema\'s "epoch_unit" to "s" (or "auto" while both arrive)',
    );
    // Other timestamp fields of the schema too, and milliseconds around the band still pass.
    expect(decode(clicks(), line({ at: 1_700_000_000 })).ok).toBe(false);
    expect(decode(clicks(), line({ ts: 999_999_999 })).ok).toBe(true);
    expect(decode(clicks(), line({ ts: 100_000_000_000 })).ok).toBe(true);
  });

  it('"s" reads numbers as seconds (decimals to the millisecond) and refuses milliseconds; "auto" takes both', () => {
    const s = clicks({ epoch_unit: 's' }), auto = clicks({ epoch_unit: 'auto' });
    const ts = (d: ReturnType<typeof clicks>, v: unknown) => {
      const out = decode(d, line({ ts: v }));
      return out.ok ? out.event.ts : out.deadLetter.reason;
    };
    expect(ts(s, MS / 1000)).toBe(MS);
    expect(ts(s, 1796112040.1239)).toBe(MS + 123);
    expect(ts(s, '2026-12-01T08:00:40Z')).toBe(MS);
    expect(ts(s, MS)).toMatch(/^ts: 1796112040000 looks like epoch milliseconds \(2026-12-01T08:00:40\.000Z\), not seconds; .*"epoch_unit" to "ms"/);
    expect(ts(s, 'x')).toMatch(/not an ISO-8601/);
    expect(ts(auto, MS / 1000)).toBe(MS);
    expect(ts(auto, MS)).toBe(MS);
    expect(ts(auto, true)).toBe('ts: expected epoch seconds or milliseconds or an ISO-8601 string, got boolean true');
  });

  it('a string of digits is told what to send in the schema\'s unit (seconds were told to be sent as that number, refused again)', () => {
    const reason = (d: ReturnType<typeof clicks>, ts: string) => {
      const out = decode(d, line({ ts }));
      return out.ok ? null : out.deadLetter.reason;
    };
    expect(reason(clicks(), '1796112040')).toBe('ts: "1796112040" is a string, and epoch seconds by its size; send epoch milliseconds as a JSON number (1796112040000) or an ISO-8601 time with Z or an offset, or set the schema\'s "epoch_unit" to "s"');
    expect(reason(clicks(), '1796112040000')).toBe('ts: "1796112040000" is a string; write epoch milliseconds as a JSON number (1796112040000), or an ISO-8601 time with Z or an offset');
    expect(reason(clicks({ epoch_unit: 's' }), '1796112040')).toBe('ts: "1796112040" is a string; write epoch seconds as a JSON number (1796112040), or an ISO-8601 time with Z or an offset');
  });

  it('"s" and "auto" make another definition version; "ms" written out does not', () => {
    const version = (extra: Record<string, unknown>) => definitionVersion(parseDefinitions(clicks(extra), 'd.json').pipeline('per_url'));
    expect(version({ epoch_unit: 'ms' })).toBe(version({}));
    expect(version({ epoch_unit: 's' })).not.toBe(version({}));
    expect(version({ epoch_unit: 'auto' })).not.toBe(version({ epoch_unit: 's' }));
  });
});

describe('format drift: a renamed field', () => {
  it('the dead letter names the key the field was renamed to', () => {
    const out = decode(clicks(), JSON.stringify({ event_id: 'e1', ts: MS, user_id: 'u1', url: '/a' }));
    expect(!out.ok && out.deadLetter.reason).toBe('userId: is required; the event has "user_id": renamed by its producer? list it in the schema\'s "aliases": {"userId": ["user_id"]}');
    const plain = decode(clicks(), JSON.stringify({ event_id: 'e1', ts: MS, url: '/a' }));
    expect(!plain.ok && plain.deadLetter.reason).toBe('userId: is required');
  });

  it('aliases take the other name, the schema\'s own first; a key under neither is said so', () => {
    const d = clicks({ aliases: { userId: ['user_id', 'uid'] } });
    const user = (o: Record<string, unknown>) => {
      const out = decode(d, JSON.stringify({ event_id: 'e1', ts: MS, url: '/a', ...o }));
      return out.ok ? out.event.userId : out.deadLetter.reason;
    };
    expect(user({ user_id: 'u2' })).toBe('u2');
    expect(user({ uid: 'u3' })).toBe('u3');
    expect(user({ userId: 'u1', user_id: 'u2' })).toBe('u1');
    expect(user({ userId: null, user_id: 'u2' })).toBe('u2');
    expect(user({ user_id: 5 })).toBe('userId: expected a string, got number 5');
    expect(user({})).toBe('userId: is required (nor as "user_id" or "uid")');
  });

  it('concord produce keys a renamed event by its alias, as the worker reads it (keyed null, one user was in two partitions)', () => {
    const schema = parseDefinitions(clicks({ aliases: { userId: 'user_id' } }), 'd.json').schema('clicks');
    const renamed = { event_id: 'e1', ts: MS, user_id: 'u2', url: '/a' };
    expect(recordKey(schema, renamed)).toBe('u2');
    const out = decodeLine(schema, JSON.stringify(renamed), pos);
    expect(out.ok && misKeyed('userId', out.event, recordKey(schema, renamed))).toBeNull();
  });

  it('a field named like a property of every object (constructor) has no aliases but its own', () => {
    const defs = clicks({ aliases: { userId: 'user_id' } });
    const withCtor = { ...defs, schemas: { clicks: { ...defs.schemas.clicks, fields: { ...defs.schemas.clicks.fields, constructor: 'string' } } } };
    const out = decode(withCtor as ReturnType<typeof clicks>, line({}));
    expect(!out.ok && out.deadLetter.reason).toBe('constructor: is required');
    const schema = parseDefinitions({ ...withCtor, schemas: { clicks: { ...withCtor.schemas.clicks, key: 'constructor' } } }, 'd.json').schema('clicks');
    expect(recordKey(schema, { event_id: 'e1', ts: MS, user_id: 'u2', url: '/a', constructor: 'c' })).toBe('c');
  });

  it('bad aliases and units are listed with the likely meaning', () => {
    const problems = (extra: Record<string, unknown>): readonly string[] => {
      try {
        parseDefinitions(clicks(extra), 'd.json');
        return [];
      } catch (error) {
        return (error as DefinitionsFileError).problems;
      }
    };
    expect(problems({ epoch_unit: 'sec' })).toEqual(['schemas.clicks.epoch_unit: unknown unit "sec" (did you mean "s"?); use "ms" (epoch milliseconds, the default), "s" (epoch seconds) or "auto" (below 10^11 seconds, else milliseconds)']);
    expect(problems({ epoch_unit: 'millis' })[0]).toMatch(/unknown unit "millis" \(did you mean "ms"\?\)/);
    expect(problems({ epoch_units: 's' })[0]).toMatch(/unknown key "epoch_units" \(did you mean "epoch_unit"\?\)/);
    expect(problems({ aliases: { userid: 'user_id' } })).toEqual(['schemas.clicks.aliases.userid: "userid" is not a field of the schema (did you mean "userId"?)']);
    expect(problems({ aliases: { userId: 'url' } })[0]).toMatch(/"url" is a field of the schema itself/);
    expect(problems({ aliases: { userId: 'x', url: ['x'] } })[0]).toMatch(/"x" is already an alias of "userId"/);
    expect(problems({ aliases: { userId: [] } })[0]).toMatch(/expected a name or a list of names/);
  });
});
